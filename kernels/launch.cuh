// Device-side launch helpers shared by ember's kernels; the host side (block size, grid
// sizing, multiprocessor count) is kernels/launch.h.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>  // std::min/std::max in launchers
#include <cstdint>

#include "kernels/launch.h"

namespace ember::kernels {

// 64-bit grid-stride loop bounds.
__device__ __forceinline__ int64_t global_thread() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t grid_stride() { return int64_t(gridDim.x) * blockDim.x; }

// 32-bit loops use I(global_thread()) and I(grid_stride()) with I = uint32_t: both fit, and a
// bound below 2^31 (kMaxIndex32) keeps i + stride from wrapping.

}  // namespace ember::kernels
