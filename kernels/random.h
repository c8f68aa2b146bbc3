// Launchers of the Philox random kernels (kernels/random.cu); the numbers are those of
// kernels/philox.h's philox_uniform / philox_normal for elements 0..n-1.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ember::kernels {

template <class T>
cudaError_t launch_random_uniform(T* out, int64_t n, uint64_t seed, uint64_t counter0, double low, double high,
                                  cudaStream_t stream);
template <class T>
cudaError_t launch_random_normal(T* out, int64_t n, uint64_t seed, uint64_t counter0, double mean, double std,
                                 cudaStream_t stream);

}  // namespace ember::kernels
