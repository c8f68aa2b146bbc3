// Row-wise log-softmax and softmax cross-entropy: one block per row (blocks stride over the
// rows past the grid's cap of 65535), a block reduction for the row maximum and another for
// the sum of exponentials (computed in the input type; float rows agree with the CPU's double
// reference to ~1e-6 relative). The row loop's index is the same for the whole block, so
// every thread reaches the reductions' barriers.
#include <cmath>
#include <cstdint>

#include "kernels/block_reduce.cuh"
#include "kernels/launch.cuh"
#include "kernels/softmax.h"

namespace ember::kernels {

namespace {

constexpr int kRowBlock = 128;  // CIFAR rows have 10 columns: a small block wastes less
constexpr int64_t kMaxRowBlocks = 65535;

unsigned row_grid(int64_t rows) { return static_cast<unsigned>(rows < kMaxRowBlocks ? rows : kMaxRowBlocks); }

template <class T>
__device__ T row_log_sum_exp(const T* row, int64_t cols) {
  T m = -INFINITY;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) m = MaxOp{}(m, row[c]);
  m = block_reduce(m, MaxOp{}, T(-INFINITY));
  if (isinf(m)) return m;  // all -inf (or an +inf): the sum below would be NaN
  T s = T(0);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += exp(row[c] - m);
  s = block_reduce(s, SumOp{}, T(0));
  return m + log(s);
}

template <class T>
__global__ void __launch_bounds__(kRowBlock) log_softmax_kernel(T* out, const T* in, int64_t rows, int64_t cols) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T lse = row_log_sum_exp(in + r * cols, cols);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) out[r * cols + c] = in[r * cols + c] - lse;
  }
}

template <class T>
__global__ void __launch_bounds__(kRowBlock)
    log_softmax_backward_kernel(T* grad_in, const T* grad_out, const T* out, int64_t rows, int64_t cols) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t base = r * cols;
    T total = T(0);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) total += grad_out[base + c];
    total = block_reduce(total, SumOp{}, T(0));
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
      grad_in[base + c] = grad_out[base + c] - exp(out[base + c]) * total;
  }
}

template <class T>
__global__ void __launch_bounds__(kRowBlock)
    cross_entropy_kernel(T* losses, const T* logits, const int64_t* targets, int64_t rows, int64_t cols, T eps) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = logits + r * cols;
    const T lse = row_log_sum_exp(row, cols);
    T total = T(0);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) total += row[c];
    total = block_reduce(total, SumOp{}, T(0));
    if (threadIdx.x == 0) {
      const int64_t t = targets[r];
      losses[r] = (t < 0 || t >= cols) ? T(NAN) : lse - (T(1) - eps) * row[t] - eps / T(cols) * total;
    }
  }
}

template <class T>
__global__ void __launch_bounds__(kRowBlock)
    cross_entropy_backward_kernel(T* grad, const T* logits, const int64_t* targets, const T* grad_loss, int64_t rows,
                                  int64_t cols, T scale, T eps) {
  const T g = scale * grad_loss[0];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = logits + r * cols;
    const T lse = row_log_sum_exp(row, cols);
    const int64_t t = targets[r];
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const T target = (c == t ? T(1) - eps : T(0)) + eps / T(cols);
      grad[r * cols + c] = g * (exp(row[c] - lse) - target);
    }
  }
}

}  // namespace

template <class T>
cudaError_t launch_log_softmax(T* out, const T* in, int64_t rows, int64_t cols, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  log_softmax_kernel<<<row_grid(rows), kRowBlock, 0, stream>>>(out, in, rows, cols);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_log_softmax_backward(T* grad_in, const T* grad_out, const T* out, int64_t rows, int64_t cols,
                                        cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  log_softmax_backward_kernel<<<row_grid(rows), kRowBlock, 0, stream>>>(grad_in, grad_out, out, rows, cols);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_cross_entropy(T* losses, const T* logits, const int64_t* targets, int64_t rows, int64_t cols,
                                 double eps, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  cross_entropy_kernel<<<row_grid(rows), kRowBlock, 0, stream>>>(losses, logits, targets, rows, cols, T(eps));
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_cross_entropy_backward(T* grad, const T* logits, const int64_t* targets, const T* grad_loss,
                                          int64_t rows, int64_t cols, double scale, double eps, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  cross_entropy_backward_kernel<<<row_grid(rows), kRowBlock, 0, stream>>>(grad, logits, targets, grad_loss, rows,
                                                                         cols, T(scale), T(eps));
  return cudaGetLastError();
}

#define EMBER_SOFTMAX_INSTANTIATE(T)                                                                         \
  template cudaError_t launch_log_softmax<T>(T*, const T*, int64_t, int64_t, cudaStream_t);                \
  template cudaError_t launch_log_softmax_backward<T>(T*, const T*, const T*, int64_t, int64_t, cudaStream_t); \
  template cudaError_t launch_cross_entropy<T>(T*, const T*, const int64_t*, int64_t, int64_t, double, cudaStream_t); \
  template cudaError_t launch_cross_entropy_backward<T>(T*, const T*, const int64_t*, const T*, int64_t, int64_t, \
                                                        double, double, cudaStream_t);
EMBER_SOFTMAX_INSTANTIATE(float)
EMBER_SOFTMAX_INSTANTIATE(double)

}  // namespace ember::kernels
