// Helpers shared by the nn test suites.
#pragma once

#include <cstdint>

#include "core/generator.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace ember::testing {

// Uniform values in [low, high) from a fixed seed (CPU).
inline Tensor uniform_tensor(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0,
                             DType dtype = DType::Float32) {
  Generator gen(seed);
  Tensor t = empty(shape, dtype);
  return uniform_(t, low, high, &gen);
}

// Sets the CPU thread count for a scope (so both the batch-parallel and the sequential
// paths of the CPU layers run in tests, whatever the machine).
class ThreadCountScope {
 public:
  explicit ThreadCountScope(int threads) { set_num_threads(threads); }
  ~ThreadCountScope() { set_num_threads(0); }
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;
};

}  // namespace ember::testing
