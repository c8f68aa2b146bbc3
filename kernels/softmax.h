// Launchers of the row-wise softmax kernels (kernels/softmax.cu). Rows are contiguous.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ember::kernels {

template <class T>
cudaError_t launch_log_softmax(T* out, const T* in, int64_t rows, int64_t cols, cudaStream_t stream);
// grad_in = grad_out - exp(out) * rowsum(grad_out)
template <class T>
cudaError_t launch_log_softmax_backward(T* grad_in, const T* grad_out, const T* out, int64_t rows, int64_t cols,
                                        cudaStream_t stream);
// loss[r] = logsumexp(x_r) - (1 - eps) x_r[t_r] - eps/C sum_c x_r[c]; NaN if t_r is not in [0, C).
template <class T>
cudaError_t launch_cross_entropy(T* losses, const T* logits, const int64_t* targets, int64_t rows, int64_t cols,
                                 double eps, cudaStream_t stream);
// grad[r, c] = scale * grad_loss[0] * (softmax(x_r)[c] - (1 - eps) [c == t_r] - eps/C)
template <class T>
cudaError_t launch_cross_entropy_backward(T* grad, const T* logits, const int64_t* targets, const T* grad_loss,
                                          int64_t rows, int64_t cols, double scale, double eps, cudaStream_t stream);

}  // namespace ember::kernels
