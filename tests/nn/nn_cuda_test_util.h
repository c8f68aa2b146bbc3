// Helpers shared by the nn GPU suites (tests/nn/test_nn_cuda.cpp, test_batch_norm_cuda_sizes.cpp).
#pragma once

#include <algorithm>

#include "core/ops.h"
#include "tests/support/compare.h"
#include "tests/support/device_compare.h"

namespace ember::testing {

// Closeness of bfloat16 (or float) outputs compared in float32 on the CPU:
// |got - want| <= atol * max(1, max|want|) + rtol * |want|. Why the scale: the GPU accumulates
// in float in another order than the CPU's double, then both round to bfloat16 (steps of 2^-8
// relative), and where a sum cancels (a batch-norm output or gradient near 0) the relative gap
// grows; atol is taken relative to the output's largest element.
inline Closeness bf16_close(double atol, double rtol) {
  return [=](const Tensor& got, const Tensor& want) {
    const Tensor g = got.to(Device::cpu()).to(DType::Float32), w = want.to(Device::cpu()).to(DType::Float32);
    const double scale = w.numel() > 0 ? std::max(1.0, max(abs(w)).item()) : 1.0;
    return all_close(g, w, atol * scale, rtol);
  };
}

}  // namespace ember::testing
