// Launch configuration shared by ember's kernel launchers (host side; the device-side
// helpers are in kernels/launch.cuh).
#pragma once

#include <cstdint>

namespace ember::kernels {

constexpr int kBlock = 256;  // threads per block of the grid-stride kernels

// Multiprocessors of the current device, queried once per device (thread-safe). A failed
// query is cleared from CUDA's last-error slot, so that the next launch check does not blame
// an unrelated kernel, and answers 132 (an H200's count: grids are only sized from it).
int multiprocessor_count();

// Blocks for a grid-stride loop over n items, `per_thread` items per thread per pass: enough
// to fill every multiprocessor 8 times (2048 threads each at 256 per block), never more than
// the work needs, never 0.
int grid_for(int64_t n, int block = kBlock, int per_thread = 1);

}  // namespace ember::kernels
