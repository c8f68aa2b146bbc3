// Sets the CPU thread count for a scope, back to the default (EMBER_NUM_THREADS or all cores)
// after: so both the parallel and the sequential paths of a CPU loop run in tests, whatever
// the machine.
#pragma once

#include "core/parallel.h"

namespace ember::testing {

class ThreadCountScope {
 public:
  explicit ThreadCountScope(int threads) { set_num_threads(threads); }
  ~ThreadCountScope() { set_num_threads(0); }
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;
};

}  // namespace ember::testing
