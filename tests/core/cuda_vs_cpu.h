// CudaVsCpu: the fixture of the core GPU suites (tests/core/test_cuda_*.cpp). Every op runs
// on CPU copies and CUDA copies of the same fresh random inputs, forward and backward
// (tests/support/device_compare.h), with every new allocation poisoned with NaN (GpuTest) so
// an unwritten element fails.
//
// Tolerances shared by the suites: elementwise float ops use the shared rule, so they differ
// only by the device's libm (exp/log/pow within 2 ulp): atol 1e-6, rtol 1e-5. Reductions,
// GEMM and softmax sum in a different order than the CPU's double accumulators: atol 1e-5,
// rtol 1e-4.
#pragma once

#include <functional>
#include <vector>

#include "core/generator.h"
#include "core/ops.h"
#include "tests/support/compare.h"
#include "tests/support/device_compare.h"
#include "tests/support/gpu_test.h"

namespace ember::testing {

using V = std::vector<Tensor>;
using Op = std::function<Tensor(const V&)>;

class CudaVsCpu : public GpuTest {
 protected:
  Tensor random(const Shape& shape, double low = -2, double high = 2, DType dtype = DType::Float32) {
    Generator g(seed_++);
    Tensor t = empty(shape, dtype);
    return uniform_(t, low, high, &g);
  }

  // Outputs and, for differentiable float ops, gradients.
  void check(const char* name, const Op& op, const V& inputs, double atol, double rtol, bool backward = true) {
    SCOPED_TRACE(name);
    expect_cuda_matches_cpu(
        op, inputs, [&](const Tensor& got, const Tensor& want) { return all_close(got, want, atol, rtol); }, backward,
        seed_++);
  }

  uint64_t seed_ = 1000;
};

// Awkward sizes: one element, odd, a block minus one, past four blocks, and an empty shape.
inline const std::vector<Shape> kAwkward = {{1}, {3}, {255}, {1027}, {4 * 256 + 3}, {7, 13}, {2, 3, 5, 7}, {0, 4}};

// Element counts that need more than one pass of a grid-stride loop. The grid is capped at 8
// blocks of 256 threads per multiprocessor (kernels/launch.h): 270,336 threads on an H200's
// 132, so 2^20 + 5 takes 4 passes there (and more than one on any GPU below 512
// multiprocessors) and 5 * 2^20 + 3 takes 20, both ending in a partial pass.
inline const std::vector<int64_t> kMultiPassSizes = {(int64_t(1) << 20) + 5, 5 * (int64_t(1) << 20) + 3};

}  // namespace ember::testing
