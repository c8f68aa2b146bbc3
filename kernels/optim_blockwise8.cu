// The 8-bit block-wise optimiser step on CUDA (kernels/optim_blockwise8_rule.h): ONE launch,
// one thread block of kQuantBlock threads per 256-element block, one element per thread:
// dequantise, the 32-bit rule, the block's absmax by a block reduction, requantise. Thread 0
// makes the block's group scalars (from the host's step and lr, or from device memory in
// capturable mode) in shared memory.
#include "kernels/block_reduce.cuh"
#include "kernels/optim_blockwise8_rule.h"
#include "kernels/optim_step.h"

namespace ember::kernels {

namespace {

template <class Rule>
struct Blockwise8KernelArgs {
  float* param;
  const float* grad;
  uint8_t* state[kMaxOptimStates];
  float* absmax[kMaxOptimStates];
  const float* map[kMaxOptimStates];
  const Quant8Block* blocks;
  OptimHyper hyper[kMaxOptimGroups];
  int64_t step;
  const double* device_lr;  // capturable mode (Blockwise8Args)
  unsigned long long* device_step;
  unsigned long long* completion;
  bool advance_step;
};

template <class Rule, unsigned kSlots>
__global__ void __launch_bounds__(kQuantBlock) blockwise8_step_kernel(const Blockwise8KernelArgs<Rule> a) {
  using Step = typename Rule::template Step<float>;
  __shared__ Step step;
  const int64_t b = blockIdx.x;
  const Quant8Block block = a.blocks[b];
  const int i = threadIdx.x;
  const bool live = i < block.count;
  if (i == 0) step = blockwise8_group_step<Rule>(a.hyper[block.group], a.step, a.device_lr, a.device_step, block.group);
  __syncthreads();
  float s[kMaxOptimStates] = {0.0f, 0.0f, 0.0f};
  for (int k = 0; k < kMaxOptimStates; ++k)
    if (((kSlots >> k) & 1u) && live) s[k] = dequantise8(a.map[k], a.state[k][b * kQuantBlock + i], a.absmax[k][b]);
  if (live) {
    float p = a.param[block.begin + i];
    Rule::apply(step, p, a.grad[block.begin + i], s[0], s[1], s[2]);
    a.param[block.begin + i] = p;
  }
  for (int k = 0; k < kMaxOptimStates; ++k) {
    if (!((kSlots >> k) & 1u)) continue;
    const float m = block_reduce(live ? fabsf(s[k]) : 0.0f, MaxOp{}, 0.0f);
    if (live) a.state[k][b * kQuantBlock + i] = quantise8(a.map[k], s[k], m);
    if (i == 0) a.absmax[k][b] = m;
  }
  // Capturable mode: every block read the count above; the last to finish advances it
  // (Note [capturable step] in kernels/optim_step.cu).
  if (a.device_step != nullptr) {
    __shared__ bool last_block;
    __syncthreads();
    if (i == 0) last_block = atomicAdd(a.completion, 1ull) == gridDim.x - 1;
    __syncthreads();
    if (last_block && i == 0) {
      if (a.advance_step) a.device_step[0] += 1;
      *a.completion = 0;
    }
  }
}

}  // namespace

cudaError_t launch_blockwise8_step(const Blockwise8Args& args, cudaStream_t stream) {
  const bool capturable = args.device_step != nullptr;
  if (args.num_groups < 1 || args.num_groups > kMaxOptimGroups || args.num_blocks < 0 ||
      args.num_blocks > 0x7fffffff || (capturable && (args.device_lr == nullptr || args.completion == nullptr)) ||
      (!capturable && args.step < 1))
    return cudaErrorInvalidValue;
  // The part launches this step only over blocks: a capturable count is advanced by its fused
  // launch when there are none (optim/blockwise8_part.cpp).
  if (args.num_blocks == 0) return cudaSuccess;
  cudaError_t result = cudaErrorInvalidValue;  // stays so for a slot set no optimiser uses
  dispatch_optim_rule(args.algorithm, args.state_slots, [&](auto rule, auto slots) {
    using Rule = decltype(rule);
    Blockwise8KernelArgs<Rule> a{};
    a.param = args.param;
    a.grad = args.grad;
    for (int k = 0; k < kMaxOptimStates; ++k) {
      a.state[k] = args.state[k];
      a.absmax[k] = args.absmax[k];
      a.map[k] = args.map[k];
    }
    a.blocks = args.blocks;
    for (int g = 0; g < args.num_groups; ++g) a.hyper[g] = args.hyper[g];
    a.step = args.step;
    a.device_lr = args.device_lr;
    a.device_step = args.device_step;
    a.completion = args.completion;
    a.advance_step = args.advance_step;
    blockwise8_step_kernel<Rule, decltype(slots)::value>
        <<<static_cast<unsigned>(args.num_blocks), kQuantBlock, 0, stream>>>(a);
    result = cudaGetLastError();
  });
  return result;
}

}  // namespace ember::kernels
