// Reduction kernels over [outer, n, inner] (contiguous) along n.
//   inner == 1: one block per output (blocks stride over the outputs past the grid's cap),
//               threads stride over n, then a block reduction.
//   inner  > 1: one thread per output, reading across inner (coalesced), looping over n; the
//               output's (o, i) comes from one multiply-shift division (Note
//               [multiply-shift division]) when the input has fewer than 2^31 elements.
// Accumulators: float sums in float (tree order, so results differ from the CPU's double
// accumulation by O(sqrt(n)) ulps), double in double, int64 in int64, bfloat16 in float
// (rounded once, when stored).
#include <cstdint>

#include "kernels/block_reduce.cuh"
#include "kernels/int_divider.h"
#include "kernels/launch.cuh"
#include "kernels/reduce.h"

namespace ember::kernels {

namespace {

constexpr int kRowBlock = 256;
constexpr int64_t kMaxRowBlocks = 65535;  // rows past this many are strided over by the blocks

// Blocks of a row kernel: one per row up to the cap (never 0: the launchers return first).
unsigned row_grid(int64_t rows) { return static_cast<unsigned>(rows < kMaxRowBlocks ? rows : kMaxRowBlocks); }

template <class T>
__global__ void __launch_bounds__(kRowBlock) sum_rows_kernel(T* out, const T* in, int64_t rows, int64_t n) {
  using A = accumulator_t<T>;
  for (int64_t o = blockIdx.x; o < rows; o += gridDim.x) {  // o is the same for the whole block
    const T* row = in + o * n;
    A acc = A(0);
    for (int64_t r = threadIdx.x; r < n; r += blockDim.x) acc += A(row[r]);
    acc = block_reduce(acc, SumOp{}, A(0));
    if (threadIdx.x == 0) out[o] = T(acc);
  }
}

// Where output j = (o, i) of [outer, inner] starts in the input [outer, n, inner]. Index is
// int64_t (64-bit divisions) or uint32_t (an IntDivider by inner; the input has < 2^31 elements).
struct ColumnIndex64 {
  int64_t inner, n;
  __device__ int64_t base(int64_t j) const { return (j / inner) * n * inner + j % inner; }
};
struct ColumnIndex32 {
  IntDivider inner;
  uint32_t n;
  __device__ uint32_t base(uint32_t j) const {
    const DivMod oi = inner.divmod(j);
    return oi.div * n * inner.divisor() + oi.mod;
  }
};

template <class T, class Index, class I>
__global__ void __launch_bounds__(kBlock) sum_columns_kernel(T* out, const T* in, I outputs, I n, I inner, Index index) {
  using A = accumulator_t<T>;
  for (I j = I(global_thread()); j < outputs; j += I(grid_stride())) {
    const T* base = in + index.base(j);
    A acc = A(0);
    for (I r = 0; r < n; ++r) acc += A(base[r * inner]);
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

// The first maximum of one row of n >= 1 values and its index, by the whole block (every
// thread calls it); the shared arrays are the block's.
template <class T>
__device__ void max_row(T* out, int64_t* index, const T* row, int64_t n, T* warp_best, int64_t* warp_index) {
  T best = row[0];
  int64_t best_i = 0;
  for (int64_t r = threadIdx.x; r < n; r += blockDim.x)
    if (better(row[r], r, best, best_i)) best = row[r], best_i = r;
  for (int offset = 16; offset > 0; offset /= 2) {
    const T v = __shfl_xor_sync(0xffffffffu, best, offset);
    const int64_t i = __shfl_xor_sync(0xffffffffu, best_i, offset);
    if (better(v, i, best, best_i)) best = v, best_i = i;
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads();  // the previous row's reads of warp_best are done
  if (lane == 0) warp_best[warp] = best, warp_index[warp] = best_i;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < int(blockDim.x / 32); ++w)
      if (better(warp_best[w], warp_index[w], best, best_i)) best = warp_best[w], best_i = warp_index[w];
    *out = best;
    if (index) *index = best_i;
  }
}

template <class T>
__global__ void __launch_bounds__(kRowBlock) max_rows_kernel(T* out, int64_t* indices, const T* in, int64_t rows,
                                                             int64_t n) {
  __shared__ T warp_best[32];
  __shared__ int64_t warp_index[32];
  for (int64_t o = blockIdx.x; o < rows; o += gridDim.x) {  // o is the same for the whole block
    max_row(out + o, indices ? indices + o : nullptr, in + o * n, n, warp_best, warp_index);
  }
}

template <class T, class Index, class I>
__global__ void __launch_bounds__(kBlock)
    max_columns_kernel(T* out, int64_t* indices, const T* in, I outputs, I n, I inner, Index index) {
  for (I j = I(global_thread()); j < outputs; j += I(grid_stride())) {
    const T* base = in + index.base(j);
    T best = base[0];
    int64_t best_i = 0;
    for (I r = 1; r < n; ++r)
      if (better(base[r * inner], int64_t(r), best, best_i)) best = base[r * inner], best_i = r;
    out[j] = best;
    if (indices) indices[j] = best_i;
  }
}

// Launches a columns kernel with 32-bit indices when the input has fewer than 2^31 elements.
template <class Launch>
void launch_columns(int64_t outer, int64_t n, int64_t inner, Launch&& launch) {
  if (outer * n * inner <= kMaxIndex32) {
    launch(static_cast<uint32_t>(outer * inner), static_cast<uint32_t>(n), static_cast<uint32_t>(inner),
           ColumnIndex32{IntDivider(static_cast<uint32_t>(inner)), static_cast<uint32_t>(n)});
  } else {
    launch(outer * inner, n, inner, ColumnIndex64{inner, n});
  }
}

}  // namespace

template <class T>
cudaError_t launch_reduce_sum(T* out, const T* in, int64_t outer, int64_t n, int64_t inner, cudaStream_t stream) {
  if (outer * inner <= 0) return cudaSuccess;
  if (inner == 1) {
    sum_rows_kernel<<<row_grid(outer), kRowBlock, 0, stream>>>(out, in, outer, n);
  } else {
    launch_columns(outer, n, inner, [&](auto outputs, auto rows, auto step, auto index) {
      sum_columns_kernel<<<grid_for(outer * inner), kBlock, 0, stream>>>(out, in, outputs, rows, step, index);
    });
  }
  return cudaGetLastError();
}

// n >= 1 (Backend::reduce): every window has a first element.
template <class T>
cudaError_t launch_reduce_max(T* out, int64_t* indices, const T* in, int64_t outer, int64_t n, int64_t inner,
                              cudaStream_t stream) {
  if (outer * inner <= 0) return cudaSuccess;
  if (n < 1) return cudaErrorInvalidValue;
  if (inner == 1) {
    max_rows_kernel<<<row_grid(outer), kRowBlock, 0, stream>>>(out, indices, in, outer, n);
  } else {
    launch_columns(outer, n, inner, [&](auto outputs, auto rows, auto step, auto index) {
      max_columns_kernel<<<grid_for(outer * inner), kBlock, 0, stream>>>(out, indices, in, outputs, rows, step, index);
    });
  }
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
