// Warp- and block-level reductions for row kernels (one block per row).
#pragma once

#include <cuda_runtime.h>

namespace ember::kernels {

template <class T, class Op>
__device__ __forceinline__ T warp_reduce(T value, Op op) {
  for (int offset = 16; offset > 0; offset /= 2) value = op(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

// Reduces `value` over the block; every thread gets the result. blockDim.x must be a
// multiple of 32 and at most 1024. `identity` fills the lanes of absent warps.
template <class T, class Op>
__device__ T block_reduce(T value, Op op, T identity) {
  __shared__ T partial[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  value = warp_reduce(value, op);
  __syncthreads();  // partial may still be read by a previous call
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  const int warps = blockDim.x / 32;
  value = lane < warps ? partial[lane] : identity;
  return warp_reduce(value, op);
}

struct SumOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return (a > b || a != a) ? a : b; }  // NaN wins
};

}  // namespace ember::kernels
