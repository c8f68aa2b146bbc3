// Adafactor's step on CUDA (rules and work split: kernels/optim_adafactor_rule.h): three
// launches per step, each one block per chunk.
//   1. moments: row_var/col_var (a warp per slice) or variance, the clamped slice means, and
//      the chunk's sum of p^2;
//   2. update norm: the chunk's sum of u^2;
//   3. apply: each block adds its parameter's chunk sums (in chunk order: deterministic), then
//      updates its elements; in capturable mode the last block advances the step counter.
// Bytes: about 24 per parameter (p and g read in pass 1, g in pass 2, p and g read and p
// written in pass 3) plus the small factored moments.
#include "kernels/block_reduce.cuh"
#include "kernels/launch.cuh"
#include "kernels/optim_adafactor_rule.h"
#include "kernels/optim_step.h"

namespace ember::kernels {

namespace {

// This block's chunk, its parameter and the group's step scalars (shared by the block).
struct ChunkContext {
  AdafactorChunk chunk;
  AdafactorTensor tensor;
  AdafactorStep step;
};

__device__ void load_context(const AdafactorArgs& a, ChunkContext& ctx) {
  if (threadIdx.x == 0) {
    ctx.chunk = a.chunks[blockIdx.x];
    ctx.tensor = a.tensors[ctx.chunk.tensor];
    const int g = ctx.tensor.group;
    const bool capturable = a.device_step != nullptr;
    const int64_t step = capturable ? int64_t(a.device_step[0]) + 1 : a.step;
    ctx.step = adafactor_step(a.hyper[g], step, capturable ? a.device_lr[g] : a.hyper[g].lr);
  }
  __syncthreads();
}

// One slice of a factored parameter, by one warp: lanes walk the columns.
__device__ void slice_moments(const AdafactorArgs& a, const ChunkContext& ctx, int64_t slice, int lane) {
  const AdafactorTensor& t = ctx.tensor;
  const AdafactorStep& s = ctx.step;
  const float* g = a.grad + t.offset + slice * t.rows * t.cols;
  float* row_var = a.row_var + t.row_offset + slice * t.rows;
  float* col_var = a.col_var + t.col_offset + slice * t.cols;
  double row_total = 0;
  for (int64_t r = 0; r < t.rows; ++r) {
    double sum = 0;
    for (int64_t c = lane; c < t.cols; c += 32) {
      const double x = g[r * t.cols + c];
      sum += x * x;
    }
    sum = warp_reduce(sum, SumOp{});
    const float next = adafactor_lerp(s, row_var[r], adafactor_mean_square(sum, t.cols));
    __syncwarp();
    if (lane == 0) row_var[r] = next;
    row_total += next;
  }
  for (int64_t c = lane; c < t.cols; c += 32) {
    double sum = 0;
    for (int64_t r = 0; r < t.rows; ++r) {
      const double x = g[r * t.cols + c];
      sum += x * x;
    }
    col_var[c] = adafactor_lerp(s, col_var[c], adafactor_mean_square(sum, t.rows));
  }
  if (lane == 0) a.slice_mean[t.mean_offset + slice] = adafactor_slice_mean(s, row_total, t.rows);
}

__global__ void __launch_bounds__(kBlock) adafactor_moments_kernel(const AdafactorArgs a) {
  __shared__ ChunkContext ctx;
  load_context(a, ctx);
  const AdafactorTensor& t = ctx.tensor;
  int64_t begin = 0, end = 0;
  adafactor_chunk_elements(t, ctx.chunk, begin, end);
  double param_sumsq = 0;
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    const double p = a.param[t.offset + j];
    param_sumsq += p * p;
    if (!t.factored) {
      const float raw = a.grad[t.offset + j], g = pick(ctx.step.maximize, -raw, raw);
      float& v = a.variance[t.row_offset + j];
      v = adafactor_lerp(ctx.step, v, g * g);
    }
  }
  if (t.factored) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    for (int64_t slice = ctx.chunk.begin + warp; slice < ctx.chunk.end; slice += warps)
      slice_moments(a, ctx, slice, lane);
  }
  param_sumsq = block_reduce(param_sumsq, SumOp{}, 0.0);
  if (threadIdx.x == 0) a.param_sumsq[blockIdx.x] = param_sumsq;
}

__global__ void __launch_bounds__(kBlock) adafactor_norm_kernel(const AdafactorArgs a) {
  __shared__ ChunkContext ctx;
  load_context(a, ctx);
  int64_t begin = 0, end = 0;
  adafactor_chunk_elements(ctx.tensor, ctx.chunk, begin, end);
  double sum = 0;
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    const double u = adafactor_element_update(a, ctx.tensor, ctx.step, j);
    sum += u * u;
  }
  sum = block_reduce(sum, SumOp{}, 0.0);
  if (threadIdx.x == 0) a.update_sumsq[blockIdx.x] = sum;
}

// Launched with one block even without chunks in capturable mode, to advance the counter.
__global__ void __launch_bounds__(kBlock) adafactor_apply_kernel(const AdafactorArgs a) {
  if (a.num_chunks > 0) {
    __shared__ ChunkContext ctx;
    __shared__ AdafactorApply apply;
    load_context(a, ctx);
    if (threadIdx.x == 0) apply = adafactor_tensor_apply(a, ctx.tensor, ctx.step);
    __syncthreads();
    const AdafactorTensor& t = ctx.tensor;
    int64_t begin = 0, end = 0;
    adafactor_chunk_elements(t, ctx.chunk, begin, end);
    for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
      float& p = a.param[t.offset + j];
      p = adafactor_apply_element(apply, p, adafactor_element_update(a, t, ctx.step, j));
    }
  }
  if (a.device_step == nullptr) return;
  __shared__ bool last_block;
  __syncthreads();
  if (threadIdx.x == 0) last_block = atomicAdd(a.completion, 1ull) == gridDim.x - 1;
  __syncthreads();
  if (last_block && threadIdx.x == 0) {
    if (a.advance_step) a.device_step[0] += 1;
    *a.completion = 0;
  }
}

}  // namespace

cudaError_t launch_adafactor_step(const AdafactorArgs& a, cudaStream_t stream) {
  const bool capturable = a.device_step != nullptr;
  if (a.num_groups < 1 || a.num_groups > kMaxOptimGroups || a.num_chunks < 0 ||
      (capturable && (a.device_lr == nullptr || a.completion == nullptr)) || (!capturable && a.step < 1))
    return cudaErrorInvalidValue;
  if (a.num_chunks == 0 && !capturable) return cudaSuccess;  // nothing to update, no count to advance
  const unsigned grid = static_cast<unsigned>(a.num_chunks);
  if (grid > 0) {
    adafactor_moments_kernel<<<grid, kBlock, 0, stream>>>(a);
    adafactor_norm_kernel<<<grid, kBlock, 0, stream>>>(a);
  }
  adafactor_apply_kernel<<<grid > 0 ? grid : 1u, kBlock, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace ember::kernels
