// Launchers of the max-pooling kernels (kernels/nn_pool.cu). NCHW, contiguous; `planes` =
// N*C; the per-output rule and window arithmetic are in kernels/nn_pool_rule.h. Each
// returns the launch's cudaError_t (nn wraps it in EMBER_CUDA_LAUNCH_CHECK).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/bfloat16.h"
#include "kernels/nn_pool_rule.h"

namespace ember::kernels {

// out and int32 indices [planes, out_h, out_w] from in [planes, in_h, in_w].
template <class T>
cudaError_t launch_max_pool2d_forward(T* out, int32_t* indices, const T* in, int64_t planes, const Pool2dParams& p,
                                      cudaStream_t stream);
// grad_in [planes, in_h, in_w] (fully written) from grad_out and indices.
template <class T>
cudaError_t launch_max_pool2d_backward(T* grad_in, const T* grad_out, const int32_t* indices, int64_t planes,
                                       const Pool2dParams& p, cudaStream_t stream);

}  // namespace ember::kernels
