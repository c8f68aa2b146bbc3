// AsyncReadback: reads small device values (a loss sum, a correct count) back to the host
// without stalling the device. post() queues a copy of the values into pinned host memory
// behind the work already queued and records an event; take() returns them, waiting only
// if that copy has not finished. A training loop posts at one log point and takes at the
// next, so the host never waits for the GPU and the GPU never waits for the host.
// On the CPU the copy happens at once.
#pragma once

#include <memory>
#include <vector>

#include "core/tensor.h"

namespace ember {

class AsyncReadback {
 public:
  AsyncReadback();
  ~AsyncReadback();
  AsyncReadback(AsyncReadback&&) noexcept;
  AsyncReadback& operator=(AsyncReadback&&) noexcept;

  // Queues a copy of one-element tensors (any dtype, all on one device). A previous post
  // that was not taken is dropped.
  void post(const std::vector<Tensor>& values);
  bool has_value() const;
  // The posted values as doubles, in order (waits for the copy if needed); clears it.
  std::vector<double> take();

  struct Impl;  // per device: core/readback.cpp (CPU), core/cuda/cuda_readback.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember
