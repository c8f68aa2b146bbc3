// Max pooling (torch.nn.MaxPool2d, floor mode, dilation 1) over NCHW planes.
//
// Forward: one thread per output element runs the shared rule (kernels/nn_pool_rule.h) over
// its window and writes the maximum and its in-plane index. Backward: one thread per input
// element gathers the gradients of the (at most ceil(k/s)^2) windows covering it that chose
// it - no atomics, every grad_in element written exactly once, deterministic.
// Bytes moved: forward reads each input ~(k/s)^2 times (cached) and writes 8 bytes per
// output (value + index); backward reads value + index of each covering window per input.
#include <cstdint>

#include "kernels/launch.cuh"
#include "kernels/nn_pool.h"

namespace ember::kernels {

namespace {

template <class T>
__global__ void __launch_bounds__(kBlock) max_pool2d_forward_kernel(T* __restrict__ out, int32_t* __restrict__ indices,
                                                                    const T* __restrict__ in, int64_t total,
                                                                    Pool2dParams p) {
  const int64_t per_plane = p.out_h * p.out_w;
  for (int64_t i = global_thread(); i < total; i += grid_stride()) {
    const int64_t plane = i / per_plane, rest = i % per_plane;
    max_pool_output(in + plane * p.in_h * p.in_w, p, rest / p.out_w, rest % p.out_w, &out[i], &indices[i]);
  }
}

template <class T>
__global__ void __launch_bounds__(kBlock)
    max_pool2d_backward_kernel(T* __restrict__ grad_in, const T* __restrict__ grad_out,
                               const int32_t* __restrict__ indices, int64_t total, Pool2dParams p) {
  const int64_t per_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
  for (int64_t i = global_thread(); i < total; i += grid_stride()) {
    const int64_t plane = i / per_plane, rest = i % per_plane;
    grad_in[i] = max_pool_input_grad(grad_out + plane * out_plane, indices + plane * out_plane, p, rest / p.in_w,
                                     rest % p.in_w);
  }
}

}  // namespace

template <class T>
cudaError_t launch_max_pool2d_forward(T* out, int32_t* indices, const T* in, int64_t planes, const Pool2dParams& p,
                                      cudaStream_t stream) {
  const int64_t total = planes * p.out_h * p.out_w;
  if (total <= 0) return cudaSuccess;
  max_pool2d_forward_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(out, indices, in, total, p);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_max_pool2d_backward(T* grad_in, const T* grad_out, const int32_t* indices, int64_t planes,
                                       const Pool2dParams& p, cudaStream_t stream) {
  const int64_t total = planes * p.in_h * p.in_w;
  if (total <= 0) return cudaSuccess;
  max_pool2d_backward_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(grad_in, grad_out, indices, total, p);
  return cudaGetLastError();
}

#define EMBER_POOL_INSTANTIATE(T)                                                                                  \
  template cudaError_t launch_max_pool2d_forward<T>(T*, int32_t*, const T*, int64_t, const Pool2dParams&,          \
                                                    cudaStream_t);                                                 \
  template cudaError_t launch_max_pool2d_backward<T>(T*, const T*, const int32_t*, int64_t, const Pool2dParams&, \
                                                     cudaStream_t);
EMBER_POOL_INSTANTIATE(float)
EMBER_POOL_INSTANTIATE(double)
EMBER_POOL_INSTANTIATE(bfloat16)

}  // namespace ember::kernels
