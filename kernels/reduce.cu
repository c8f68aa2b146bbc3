// Reduction kernels over [outer, n, inner] (contiguous) along n.
//   inner == 1: one block per output, threads stride over n, then a block reduction.
//   inner  > 1: one thread per output, reading across inner (coalesced), looping over n.
// Accumulators: float sums in float (tree order, so results differ from the CPU's double
// accumulation by O(sqrt(n)) ulps), double in double, int64 in int64, bfloat16 in float
// (rounded once, when stored).
#include <cstdint>

#include "kernels/block_reduce.cuh"
#include "kernels/launch.cuh"
#include "kernels/reduce.h"

namespace ember::kernels {

namespace {

constexpr int kRowBlock = 256;

template <class T>
__global__ void __launch_bounds__(kRowBlock) sum_rows_kernel(T* out, const T* in, int64_t n) {
  using A = accumulator_t<T>;
  const T* row = in + int64_t(blockIdx.x) * n;
  A acc = A(0);
  for (int64_t r = threadIdx.x; r < n; r += blockDim.x) acc += A(row[r]);
  acc = block_reduce(acc, SumOp{}, A(0));
  if (threadIdx.x == 0) out[blockIdx.x] = T(acc);
}

template <class T>
__global__ void __launch_bounds__(kBlock) sum_columns_kernel(T* out, const T* in, int64_t outer, int64_t n, int64_t inner) {
  using A = accumulator_t<T>;
  for (int64_t j = global_thread(); j < outer * inner; j += grid_stride()) {
    const int64_t o = j / inner, i = j % inner;
    const T* base = in + o * n * inner + i;
    A acc = A(0);
    for (int64_t r = 0; r < n; ++r) acc += A(base[r * inner]);
    out[j] = T(acc);
  }
}

// (value, index) candidate ordering: NaN beats numbers, larger beats smaller, and on ties
// the lower index wins (torch's "first occurrence").
template <class T>
__device__ __forceinline__ bool better(T v, int64_t i, T best, int64_t best_i) {
  const bool v_nan = v != v, best_nan = best != best;
  if (v_nan || best_nan) return v_nan && (!best_nan || i < best_i);
  return v > best || (v == best && i < best_i);
}

template <class T>
__global__ void __launch_bounds__(kRowBlock) max_rows_kernel(T* out, int64_t* indices, const T* in, int64_t n) {
  const T* row = in + int64_t(blockIdx.x) * n;
  T best = row[0];
  int64_t best_i = 0;
  for (int64_t r = threadIdx.x; r < n; r += blockDim.x)
    if (better(row[r], r, best, best_i)) best = row[r], best_i = r;
  for (int offset = 16; offset > 0; offset /= 2) {
    const T v = __shfl_xor_sync(0xffffffffu, best, offset);
    const int64_t i = __shfl_xor_sync(0xffffffffu, best_i, offset);
    if (better(v, i, best, best_i)) best = v, best_i = i;
  }
  __shared__ T warp_best[32];
  __shared__ int64_t warp_index[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_best[warp] = best, warp_index[warp] = best_i;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < int(blockDim.x / 32); ++w)
      if (better(warp_best[w], warp_index[w], best, best_i)) best = warp_best[w], best_i = warp_index[w];
    out[blockIdx.x] = best;
    if (indices) indices[blockIdx.x] = best_i;
  }
}

template <class T>
__global__ void __launch_bounds__(kBlock)
    max_columns_kernel(T* out, int64_t* indices, const T* in, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t j = global_thread(); j < outer * inner; j += grid_stride()) {
    const int64_t o = j / inner, i = j % inner;
    const T* base = in + o * n * inner + i;
    T best = base[0];
    int64_t best_i = 0;
    for (int64_t r = 1; r < n; ++r)
      if (better(base[r * inner], r, best, best_i)) best = base[r * inner], best_i = r;
    out[j] = best;
    if (indices) indices[j] = best_i;
  }
}

}  // namespace

template <class T>
cudaError_t launch_reduce_sum(T* out, const T* in, int64_t outer, int64_t n, int64_t inner, cudaStream_t stream) {
  if (outer * inner <= 0) return cudaSuccess;
  if (inner == 1) sum_rows_kernel<<<static_cast<unsigned>(outer), kRowBlock, 0, stream>>>(out, in, n);
  else sum_columns_kernel<<<grid_for(outer * inner), kBlock, 0, stream>>>(out, in, outer, n, inner);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_reduce_max(T* out, int64_t* indices, const T* in, int64_t outer, int64_t n, int64_t inner,
                              cudaStream_t stream) {
  if (outer * inner <= 0) return cudaSuccess;
  if (inner == 1) max_rows_kernel<<<static_cast<unsigned>(outer), kRowBlock, 0, stream>>>(out, indices, in, n);
  else max_columns_kernel<<<grid_for(outer * inner), kBlock, 0, stream>>>(out, indices, in, outer, n, inner);
  return cudaGetLastError();
}

template cudaError_t launch_reduce_sum<float>(float*, const float*, int64_t, int64_t, int64_t, cudaStream_t);
template cudaError_t launch_reduce_sum<double>(double*, const double*, int64_t, int64_t, int64_t, cudaStream_t);
template cudaError_t launch_reduce_sum<int64_t>(int64_t*, const int64_t*, int64_t, int64_t, int64_t, cudaStream_t);
template cudaError_t launch_reduce_sum<bfloat16>(bfloat16*, const bfloat16*, int64_t, int64_t, int64_t, cudaStream_t);
template cudaError_t launch_reduce_max<float>(float*, int64_t*, const float*, int64_t, int64_t, int64_t, cudaStream_t);
template cudaError_t launch_reduce_max<double>(double*, int64_t*, const double*, int64_t, int64_t, int64_t,
                                               cudaStream_t);
template cudaError_t launch_reduce_max<int64_t>(int64_t*, int64_t*, const int64_t*, int64_t, int64_t, int64_t,
                                                cudaStream_t);

}  // namespace ember::kernels
