// Launch-configuration helpers shared by ember's kernels.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace ember::kernels {

constexpr int kBlock = 256;  // threads per block of the grid-stride kernels

// Multiprocessors of the current device, cached per device (a driver query is microseconds,
// a launch is a few: not worth repeating).
inline int multiprocessor_count() {
  static int cached[64] = {};
  int device = 0;
  cudaGetDevice(&device);
  if (device < 0 || device >= 64) return 132;
  if (cached[device] == 0) cudaDeviceGetAttribute(&cached[device], cudaDevAttrMultiProcessorCount, device);
  return cached[device] > 0 ? cached[device] : 132;
}

// Blocks for a grid-stride loop over n items, `per_thread` items per thread per pass:
// enough to fill every SM several times, never more than the work needs.
inline int grid_for(int64_t n, int block = kBlock, int per_thread = 1) {
  const int64_t needed = (n + int64_t(block) * per_thread - 1) / (int64_t(block) * per_thread);
  const int64_t cap = int64_t(multiprocessor_count()) * 8;
  return static_cast<int>(std::max<int64_t>(1, std::min(needed, cap)));
}

// 64-bit grid-stride loop bounds.
__device__ __forceinline__ int64_t global_thread() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t grid_stride() { return int64_t(gridDim.x) * blockDim.x; }

}  // namespace ember::kernels
