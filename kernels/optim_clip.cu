// Gradient clipping by global norm over the flat gradient buffer (torch.nn.utils.
// clip_grad_norm_ with norm_type 2): two launches and no host synchronisation.
//   1. grad_norm_kernel: each block sums grad^2 over a grid-stride float4 loop in double and
//      writes its partial; the last block to finish (completion counter) adds the partials in
//      block order - the same order every run, so the norm is deterministic - and writes
//      norm = sqrt(sum) as float.
//   2. clip_kernel: grad *= min(1, max_norm / (norm + 1e-6)) with the norm read on the device,
//      computed in float as torch does (NaN propagates, as torch.clamp's does).
// Padding and frozen regions of the flat buffer hold zeros, so summing the whole buffer is the
// norm over the trainable gradients. Bytes: n * 4 read (norm), n * 8 read + written (clip).
#include <cstdint>

#include "kernels/block_reduce.cuh"
#include "kernels/launch.cuh"
#include "kernels/optim_step.h"

namespace ember::kernels {

namespace {

__global__ void __launch_bounds__(kBlock) grad_norm_kernel(const float* __restrict__ grad, int64_t n, float* norm,
                                                           double* partials, unsigned long long* counter) {
  double acc = 0;
  const int64_t vectors = n / 4;
  for (int64_t v = global_thread(); v < vectors; v += grid_stride()) {
    const float4 g = __ldg(reinterpret_cast<const float4*>(grad) + v);
    acc += double(g.x) * g.x + double(g.y) * g.y + double(g.z) * g.z + double(g.w) * g.w;
  }
  for (int64_t i = 4 * vectors + global_thread(); i < n; i += grid_stride()) acc += double(grad[i]) * grad[i];
  acc = block_reduce(acc, SumOp{}, 0.0);
  __shared__ bool last_block;
  if (threadIdx.x == 0) {
    partials[blockIdx.x] = acc;
    __threadfence();  // the partial is visible before the counter says so
    last_block = atomicAdd(counter, 1ull) == gridDim.x - 1;
  }
  __syncthreads();
  if (!last_block) return;
  double total = 0;
  for (unsigned b = threadIdx.x; b < gridDim.x; b += blockDim.x) total += *(volatile double*)(partials + b);
  total = block_reduce(total, SumOp{}, 0.0);
  if (threadIdx.x == 0) {
    *norm = static_cast<float>(sqrt(total));
    *counter = 0;
  }
}

__global__ void __launch_bounds__(kBlock)
    clip_kernel(float* __restrict__ grad, int64_t n, const float* norm, float max_norm) {
  const float coef = max_norm / (*norm + 1e-6f);
  const float scale = coef > 1.0f ? 1.0f : coef;  // NaN stays NaN
  const int64_t vectors = n / 4;
  for (int64_t v = global_thread(); v < vectors; v += grid_stride()) {
    float4 g = reinterpret_cast<float4*>(grad)[v];
    g.x *= scale, g.y *= scale, g.z *= scale, g.w *= scale;
    reinterpret_cast<float4*>(grad)[v] = g;
  }
  for (int64_t i = 4 * vectors + global_thread(); i < n; i += grid_stride()) grad[i] *= scale;
}

}  // namespace

cudaError_t launch_grad_norm(const float* grad, int64_t n, float* norm, void* workspace, cudaStream_t stream) {
  if (n < 0 || reinterpret_cast<uintptr_t>(grad) % 16 != 0) return cudaErrorInvalidValue;
  const int grid = std::min(grid_for((n + 3) / 4), kMaxNormBlocks);
  auto* partials = static_cast<double*>(workspace);
  auto* counter = reinterpret_cast<unsigned long long*>(partials + kMaxNormBlocks);
  grad_norm_kernel<<<grid, kBlock, 0, stream>>>(grad, n, norm, partials, counter);
  return cudaGetLastError();
}

cudaError_t launch_clip_by_norm(float* grad, int64_t n, const float* norm, float max_norm, cudaStream_t stream) {
  if (n < 0 || reinterpret_cast<uintptr_t>(grad) % 16 != 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  clip_kernel<<<grid_for((n + 3) / 4), kBlock, 0, stream>>>(grad, n, norm, max_norm);
  return cudaGetLastError();
}

}  // namespace ember::kernels
