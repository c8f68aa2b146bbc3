// Timing for ember-bench-optim: the median of repeated runs, with the caches flushed before
// each one, and the copy bandwidth measured the same way. CPU: steady_clock around a
// synchronous call. CUDA (timing_cuda.cpp): CUDA events on ember's stream around the queued
// work, the L2 flushed by a memset between repetitions.
#pragma once

#include <cstdint>
#include <functional>

#include "core/device.h"

namespace ember::bench {

struct TimingOptions {
  int warmup = 3;
  int reps = 20;
};

// Median milliseconds of `work` on `device`.
double median_ms(Device device, const std::function<void()>& work, const TimingOptions& options);
// Copy bandwidth in GB/s (bytes read + written per second): device-to-device memcpy on CUDA,
// memcpy split over the CPU threads on the CPU, of a buffer larger than every cache.
double copy_gb_per_s(Device device, const TimingOptions& options);

// The CUDA halves (timing_cuda.cpp; timing_cuda_unavailable.cpp in a CPU-only build).
double cuda_median_ms(const std::function<void()>& work, const TimingOptions& options);
double cuda_copy_gb_per_s(const TimingOptions& options);

}  // namespace ember::bench
