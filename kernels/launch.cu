// Launch configuration helpers (kernels/launch.h).
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>

#include "kernels/launch.h"

namespace ember::kernels {

namespace {
constexpr int kMaxDevices = 64;
constexpr int kFallbackMultiprocessors = 132;
}  // namespace

int multiprocessor_count() {
  // A driver query costs microseconds and a launch a few: cached. Racing threads may both
  // query; they store the same value.
  static std::atomic<int> cached[kMaxDevices] = {};
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= kMaxDevices) {
    cudaGetLastError();
    return kFallbackMultiprocessors;
  }
  int count = cached[device].load(std::memory_order_relaxed);
  if (count > 0) return count;
  if (cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || count <= 0) {
    cudaGetLastError();
    return kFallbackMultiprocessors;
  }
  cached[device].store(count, std::memory_order_relaxed);
  return count;
}

int grid_for(int64_t n, int block, int per_thread) {
  const int64_t per_block = int64_t(block) * per_thread;
  const int64_t needed = (n + per_block - 1) / per_block;
  const int64_t cap = int64_t(multiprocessor_count()) * 8;
  return static_cast<int>(std::max<int64_t>(1, std::min(needed, cap)));
}

}  // namespace ember::kernels
