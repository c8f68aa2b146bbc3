// Max pooling (torch.nn.MaxPool2d, floor mode, dilation 1) over NCHW planes.
//
// Forward: one thread per output element runs the shared rule (kernels/nn_pool_rule.h) over
// its window and writes the maximum and its in-plane index. Backward: one thread per input
// element gathers the gradients of the (at most ceil(k/s)^2) windows covering it that chose
// it - no atomics, every grad_in element written exactly once, deterministic.
// Bytes moved: forward reads each input ~(k/s)^2 times (cached) and writes 8 bytes per
// output (value + index); backward reads value + index of each covering window per input.
// A thread's (plane, row, column) comes from two multiply-shift divisions (Note
// [multiply-shift division]) when input and output have fewer than 2^31 elements, else from
// 64-bit divisions.
#include <cstdint>

#include "kernels/int_divider.h"

#include "kernels/launch.cuh"
#include "kernels/nn_pool.h"

namespace ember::kernels {

namespace {

// Element i of a [planes, rows, cols] walk as (plane, row, col): 64-bit divisions, or two
// IntDividers (32-bit).
struct PlaneRowCol {
  int64_t plane, row, col;
};
struct Walk64 {
  int64_t rows, cols;
  __device__ PlaneRowCol operator()(int64_t i) const {
    const int64_t per_plane = rows * cols, rest = i % per_plane;
    return {i / per_plane, rest / cols, rest % cols};
  }
};
struct Walk32 {
  IntDivider per_plane, cols;
  __device__ PlaneRowCol operator()(uint32_t i) const {
    const DivMod pr = per_plane.divmod(i), rc = cols.divmod(pr.mod);
    return {pr.div, rc.div, rc.mod};
  }
};

template <class T, class Walk, class I>
__global__ void __launch_bounds__(kBlock) max_pool2d_forward_kernel(T* __restrict__ out, int32_t* __restrict__ indices,
                                                                    const T* __restrict__ in, I total, Pool2dParams p,
                                                                    Walk walk) {
  for (I i = I(global_thread()); i < total; i += I(grid_stride())) {
    const PlaneRowCol o = walk(i);  // output (plane, oh, ow)
    max_pool_output(in + o.plane * p.in_h * p.in_w, p, o.row, o.col, &out[i], &indices[i]);
  }
}

template <class T, class Walk, class I>
__global__ void __launch_bounds__(kBlock)
    max_pool2d_backward_kernel(T* __restrict__ grad_in, const T* __restrict__ grad_out,
                               const int32_t* __restrict__ indices, I total, Pool2dParams p, Walk walk) {
  const int64_t out_plane = p.out_h * p.out_w;
  for (I i = I(global_thread()); i < total; i += I(grid_stride())) {
    const PlaneRowCol o = walk(i);  // input (plane, ih, iw)
    grad_in[i] = max_pool_input_grad(grad_out + o.plane * out_plane, indices + o.plane * out_plane, p, o.row, o.col);
  }
}

// Whether both sides of the pooling fit 32-bit indices.
bool fits32(int64_t planes, const Pool2dParams& p) {
  return planes * p.in_h * p.in_w <= kMaxIndex32 && planes * p.out_h * p.out_w <= kMaxIndex32;
}

Walk32 walk32(int64_t rows, int64_t cols) {
  return {IntDivider(static_cast<uint32_t>(rows * cols)), IntDivider(static_cast<uint32_t>(cols))};
}

}  // namespace

template <class T>
cudaError_t launch_max_pool2d_forward(T* out, int32_t* indices, const T* in, int64_t planes, const Pool2dParams& p,
                                      cudaStream_t stream) {
  const int64_t total = planes * p.out_h * p.out_w;
  if (total <= 0) return cudaSuccess;
  if (fits32(planes, p))
    max_pool2d_forward_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(out, indices, in, uint32_t(total), p,
                                                                         walk32(p.out_h, p.out_w));
  else
    max_pool2d_forward_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(out, indices, in, total, p,
                                                                         Walk64{p.out_h, p.out_w});
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_max_pool2d_backward(T* grad_in, const T* grad_out, const int32_t* indices, int64_t planes,
                                       const Pool2dParams& p, cudaStream_t stream) {
  const int64_t total = planes * p.in_h * p.in_w;
  if (total <= 0) return cudaSuccess;
  if (fits32(planes, p))
    max_pool2d_backward_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(grad_in, grad_out, indices, uint32_t(total),
                                                                          p, walk32(p.in_h, p.in_w));
  else
    max_pool2d_backward_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(grad_in, grad_out, indices, total, p,
                                                                          Walk64{p.in_h, p.in_w});
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
