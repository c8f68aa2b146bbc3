// Internal: the per-device part of AsyncReadback. core/readback.h is the class everyone uses;
// this header is what each device implements behind it (the CPU in core/readback.cpp, CUDA in
// core/cuda/cuda_readback.cpp). Nothing outside core/ includes it.
#pragma once

#include <memory>
#include <vector>

#include "core/readback.h"

namespace ember {

struct AsyncReadback::Impl {
  virtual ~Impl() = default;
  virtual void post(const Tensor& stacked) = 0;  // float64 [n], contiguous, on the device
  virtual std::vector<double> take() = 0;
  bool has_value = false;
};

namespace detail {
// Defined with the CUDA backend (core/cuda/cuda_readback.cpp) or its CPU-only stub.
std::unique_ptr<AsyncReadback::Impl> make_cuda_readback();
}  // namespace detail

}  // namespace ember
