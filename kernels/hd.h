// EMBER_HD marks a function that both the CPU path and CUDA kernels call: the single place
// where a per-element rule or an index computation is written (DESIGN decision 3).
#pragma once

#if defined(__CUDACC__)
#define EMBER_HD __host__ __device__ __forceinline__
#else
#define EMBER_HD inline
#endif
