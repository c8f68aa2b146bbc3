// Launchers of the reduction kernels (kernels/reduce.cu): a contiguous input seen as
// [outer, n, inner] reduced over n into a contiguous [outer, inner] output.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/bfloat16.h"

namespace ember::kernels {

template <class T>
cudaError_t launch_reduce_sum(T* out, const T* in, int64_t outer, int64_t n, int64_t inner, cudaStream_t stream);
// First maximum and its index along n (NaN counts as the maximum).
template <class T>
cudaError_t launch_reduce_max(T* out, int64_t* indices, const T* in, int64_t outer, int64_t n, int64_t inner,
                              cudaStream_t stream);

}  // namespace ember::kernels
