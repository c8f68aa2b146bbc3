// Batch normalisation kernels for bfloat16 (or float32 NHWC) activations with float32
// statistics, optionally fused with the ReLU after it (rules and index arithmetic in
// kernels/nn_batch_norm_rule.h). Per training forward: partial sums (NCHW: splits x channels
// blocks; NHWC: splits blocks over all channels), one warp per channel to combine them, one
// elementwise pass; per backward the same shape. All arithmetic is float, statistics combine
// in double. Bytes: the forward reads x twice and writes y once; the backward reads dy and x
// twice and writes dx once (2 bytes each for bfloat16).
#include "kernels/block_reduce.cuh"
#include "kernels/launch.cuh"
#include "kernels/nn_batch_norm.h"

namespace ember::kernels {

namespace {

constexpr int kBnBlock = 256;

template <class T>
__global__ void __launch_bounds__(kBnBlock)
    bn_stats_partial_kernel(float* partials, const T* x, BnShape s, int splits) {
  const int64_t c = blockIdx.y;
  const int split = blockIdx.x;
  int64_t begin = 0, end = 0;
  bn_split_range(s.count(), split, splits, &begin, &end);
  const float shift = float(x[bn_offset(0, c, s)]);
  float sum = 0.f, squares = 0.f;
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    const float d = float(x[bn_offset(j, c, s)]) - shift;
    sum += d;
    squares += d * d;
  }
  sum = block_reduce(sum, SumOp{}, 0.f);
  squares = block_reduce(squares, SumOp{}, 0.f);
  if (threadIdx.x == 0) {
    partials[(c * splits + split) * 2] = sum;
    partials[(c * splits + split) * 2 + 1] = squares;
  }
}

// NHWC partial sums (Note in kernels/nn_batch_norm_rule.h): one block per range of rows, its
// threads owning channels (bn_nhwc_lanes), the row groups of a channel combined in shared
// memory. kBackward: the sums of dy and dy * xhat, else of (x - shift) and its square.
template <class T, bool kBackward>
__global__ void __launch_bounds__(kBnBlock) bn_partial_nhwc_kernel(float* partials, const T* x, const T* dy,
                                                                   const float* mean, const float* invstd,
                                                                   const float* w, const float* bias, bool relu,
                                                                   BnShape s, int splits) {
  __shared__ float shared[2][kBnBlock];
  const int split = blockIdx.x;
  int64_t begin = 0, end = 0;
  bn_split_range(s.count(), split, splits, &begin, &end);
  const BnNhwcLanes lanes = bn_nhwc_lanes(s.channels, blockDim.x);
  const int t = threadIdx.x, group = t / lanes.channels, lane = t % lanes.channels;
  const bool active = group < lanes.groups;
  for (int64_t first = 0; first < s.channels; first += lanes.channels) {  // once unless C > threads
    const int64_t c = first + lane;
    float a = 0.f, b = 0.f;
    if (active && c < s.channels) {
      if constexpr (kBackward) {
        const float m = mean[c], r = invstd[c];
        for (int64_t row = begin + group; row < end; row += lanes.groups) {
          const int64_t o = bn_offset(row, c, s);
          const float xv = float(x[o]);
          const float g = bn_masked_grad<T>(float(dy[o]), xv, m, r, w[c], bias[c], relu);
          a += g;
          b += g * (xv - m) * r;
        }
      } else {
        const float shift = float(x[bn_offset(0, c, s)]);
        for (int64_t row = begin + group; row < end; row += lanes.groups) {
          const float d = float(x[bn_offset(row, c, s)]) - shift;
          a += d;
          b += d * d;
        }
      }
    }
    shared[0][t] = a;
    shared[1][t] = b;
    __syncthreads();
    if (active && group == 0 && c < s.channels) {
      for (int k = 1; k < lanes.groups; ++k) {
        a += shared[0][k * lanes.channels + lane];
        b += shared[1][k * lanes.channels + lane];
      }
      partials[(c * splits + split) * 2] = a;
      partials[(c * splits + split) * 2 + 1] = b;
    }
    __syncthreads();  // shared is reused by the next channel chunk
  }
}

// The finish kernels: one warp per channel, its lanes summing the channel's partial pairs in
// double (up to 512 of them for NHWC), then a warp reduction.
__device__ __forceinline__ void sum_partials(const float* partials, int64_t c, int splits, double* first,
                                             double* second) {
  const int lane = threadIdx.x % 32;
  double a = 0, b = 0;
  for (int k = lane; k < splits; k += 32) {
    a += partials[(c * splits + k) * 2];
    b += partials[(c * splits + k) * 2 + 1];
  }
  *first = warp_reduce(a, SumOp{});
  *second = warp_reduce(b, SumOp{});
}

template <class T>
__global__ void __launch_bounds__(kBlock)
    bn_stats_finish_kernel(float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                           const float* partials, const T* x, BnShape s, int splits, double momentum, double eps) {
  // Whole warps step over the channels together, so every lane takes part in the shuffles.
  for (int64_t c = global_thread() / 32; c < s.channels; c += grid_stride() / 32) {
    double sum = 0, squares = 0;
    sum_partials(partials, c, splits, &sum, &squares);
    if (threadIdx.x % 32 != 0) continue;
    double mean = 0, var = 0;
    bn_combine(sum, squares, double(float(x[bn_offset(0, c, s)])), s.count(), &mean, &var);
    save_mean[c] = float(mean);
    save_invstd[c] = bn_invstd(var, eps);
    if (running_mean) bn_update_running(&running_mean[c], &running_var[c], mean, var, s.count(), momentum);
  }
}

template <class T>
__global__ void __launch_bounds__(kBlock) bn_normalize_kernel(T* y, const T* x, const float* mean, const float* invstd,
                                                              const float* w, const float* b, bool relu, BnShape s) {
  for (int64_t i = global_thread(); i < s.total(); i += grid_stride()) {
    const int64_t c = bn_channel_of(i, s);
    const float z = bn_normalize(float(x[i]), mean[c], invstd[c], w[c], b[c]);
    y[i] = T(relu ? bn_relu(z) : z);
  }
}

template <class T>
__global__ void __launch_bounds__(kBlock) bn_eval_kernel(T* y, const T* x, const float* w, const float* b,
                                                         const float* running_mean, const float* running_var,
                                                         BnShape s, float eps) {
  for (int64_t i = global_thread(); i < s.total(); i += grid_stride()) {
    const int64_t c = bn_channel_of(i, s);
    // rsqrtf per element, not bn_invstd's double sqrt: evaluation's statistics are the
    // running ones, and a float reciprocal square root is plenty for inference.
    y[i] = T(bn_normalize(float(x[i]), running_mean[c], rsqrtf(running_var[c] + eps), w[c], b[c]));
  }
}

template <class T>
__global__ void __launch_bounds__(kBnBlock) bn_backward_partial_kernel(float* partials, const T* dy, const T* x,
                                                                       const float* mean, const float* invstd,
                                                                       const float* w, const float* b, bool relu,
                                                                       BnShape s, int splits) {
  const int64_t c = blockIdx.y;
  const int split = blockIdx.x;
  int64_t begin = 0, end = 0;
  bn_split_range(s.count(), split, splits, &begin, &end);
  const float m = mean[c], r = invstd[c];
  float sum_dy = 0.f, sum_dy_xhat = 0.f;
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    const int64_t o = bn_offset(j, c, s);
    const float xv = float(x[o]);
    const float g = bn_masked_grad<T>(float(dy[o]), xv, m, r, w[c], b[c], relu);
    sum_dy += g;
    sum_dy_xhat += g * (xv - m) * r;
  }
  sum_dy = block_reduce(sum_dy, SumOp{}, 0.f);
  sum_dy_xhat = block_reduce(sum_dy_xhat, SumOp{}, 0.f);
  if (threadIdx.x == 0) {
    partials[(c * splits + split) * 2] = sum_dy;
    partials[(c * splits + split) * 2 + 1] = sum_dy_xhat;
  }
}

__global__ void __launch_bounds__(kBlock) bn_backward_finish_kernel(float* dw, float* db, const float* partials,
                                                                    BnShape s, int splits) {
  for (int64_t c = global_thread() / 32; c < s.channels; c += grid_stride() / 32) {
    double sum_dy = 0, sum_dy_xhat = 0;
    sum_partials(partials, c, splits, &sum_dy, &sum_dy_xhat);
    if (threadIdx.x % 32 != 0) continue;
    db[c] = float(sum_dy);
    dw[c] = float(sum_dy_xhat);
  }
}

template <class T>
__global__ void __launch_bounds__(kBlock) bn_input_grad_kernel(T* dx, const T* dy, const T* x, const float* w,
                                                               const float* b, bool relu, const float* mean,
                                                               const float* invstd, const float* dw, const float* db,
                                                               BnShape s) {
  const float inv_count = 1.f / float(s.count());
  for (int64_t i = global_thread(); i < s.total(); i += grid_stride()) {
    const int64_t c = bn_channel_of(i, s);
    const float xv = float(x[i]);
    const float g = bn_masked_grad<T>(float(dy[i]), xv, mean[c], invstd[c], w[c], b[c], relu);
    dx[i] = T(bn_input_grad(g, xv, mean[c], invstd[c], w[c], db[c] * inv_count, dw[c] * inv_count));
  }
}

}  // namespace

template <class T>
cudaError_t launch_batch_norm_forward_train(T* y, float* save_mean, float* save_invstd, float* running_mean,
                                            float* running_var, const T* x, const float* w, const float* b,
                                            float* partials, const BnShape& s, int splits, double momentum,
                                            double eps, bool relu, cudaStream_t stream) {
  if (s.total() <= 0) return cudaSuccess;
  if (s.nhwc)
    bn_partial_nhwc_kernel<T, false><<<splits, kBnBlock, 0, stream>>>(partials, x, nullptr, nullptr, nullptr, nullptr,
                                                                      nullptr, false, s, splits);
  else
    bn_stats_partial_kernel<T><<<dim3(splits, static_cast<unsigned>(s.channels)), kBnBlock, 0, stream>>>(partials, x,
                                                                                                         s, splits);
  bn_stats_finish_kernel<T><<<grid_for(s.channels * 32), kBlock, 0, stream>>>(save_mean, save_invstd, running_mean,
                                                                         running_var, partials, x, s, splits,
                                                                         momentum, eps);
  bn_normalize_kernel<T><<<grid_for(s.total()), kBlock, 0, stream>>>(y, x, save_mean, save_invstd, w, b, relu, s);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_batch_norm_forward_eval(T* y, const T* x, const float* w, const float* b,
                                           const float* running_mean, const float* running_var, const BnShape& s,
                                           double eps, cudaStream_t stream) {
  if (s.total() <= 0) return cudaSuccess;
  bn_eval_kernel<T><<<grid_for(s.total()), kBlock, 0, stream>>>(y, x, w, b, running_mean, running_var, s,
                                                                static_cast<float>(eps));
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_batch_norm_backward(T* dx, float* dw, float* db, const T* dy, const T* x, const float* w,
                                       const float* b, const float* save_mean, const float* save_invstd,
                                       float* partials, const BnShape& s, int splits, bool relu,
                                       cudaStream_t stream) {
  if (s.total() <= 0) return cudaSuccess;
  if (s.nhwc)
    bn_partial_nhwc_kernel<T, true><<<splits, kBnBlock, 0, stream>>>(partials, x, dy, save_mean, save_invstd, w, b,
                                                                     relu, s, splits);
  else
    bn_backward_partial_kernel<T><<<dim3(splits, static_cast<unsigned>(s.channels)), kBnBlock, 0, stream>>>(
        partials, dy, x, save_mean, save_invstd, w, b, relu, s, splits);
  bn_backward_finish_kernel<<<grid_for(s.channels * 32), kBlock, 0, stream>>>(dw, db, partials, s, splits);
  bn_input_grad_kernel<T><<<grid_for(s.total()), kBlock, 0, stream>>>(dx, dy, x, w, b, relu, save_mean, save_invstd,
                                                                      dw, db, s);
  return cudaGetLastError();
}

#define EMBER_BN_INSTANTIATE(T)                                                                                      \
  template cudaError_t launch_batch_norm_forward_train<T>(T*, float*, float*, float*, float*, const T*, const float*, \
                                                          const float*, float*, const BnShape&, int, double, double, \
                                                          bool, cudaStream_t);                                       \
  template cudaError_t launch_batch_norm_forward_eval<T>(T*, const T*, const float*, const float*, const float*,     \
                                                         const float*, const BnShape&, double, cudaStream_t);        \
  template cudaError_t launch_batch_norm_backward<T>(T*, float*, float*, const T*, const T*, const float*,           \
                                                     const float*, const float*, const float*, float*,               \
                                                     const BnShape&, int, bool, cudaStream_t);
EMBER_BN_INSTANTIATE(bfloat16)
EMBER_BN_INSTANTIATE(float)

}  // namespace ember::kernels
