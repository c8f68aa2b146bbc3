// The 8-bit block-wise optimiser step on CUDA (kernels/optim_blockwise8_rule.h): ONE launch,
// one thread block of kQuantBlock threads per 256-element block, one element per thread:
// dequantise, the 32-bit rule, the block's absmax by a block reduction, requantise.
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
  typename Rule::template Step<float> step[kMaxOptimGroups];
};

template <class Rule, unsigned kSlots>
__global__ void __launch_bounds__(kQuantBlock) blockwise8_step_kernel(const Blockwise8KernelArgs<Rule> a) {
  const int64_t b = blockIdx.x;
  const Quant8Block block = a.blocks[b];
  const int i = threadIdx.x;
  const bool live = i < block.count;
  float s[kMaxOptimStates] = {0.0f, 0.0f, 0.0f};
  for (int k = 0; k < kMaxOptimStates; ++k)
    if (((kSlots >> k) & 1u) && live) s[k] = dequantise8(a.map[k], a.state[k][b * kQuantBlock + i], a.absmax[k][b]);
  if (live) {
    float p = a.param[block.begin + i];
    Rule::apply(a.step[block.group], p, a.grad[block.begin + i], s[0], s[1], s[2]);
    a.param[block.begin + i] = p;
  }
  for (int k = 0; k < kMaxOptimStates; ++k) {
    if (!((kSlots >> k) & 1u)) continue;
    const float m = block_reduce(live ? fabsf(s[k]) : 0.0f, MaxOp{}, 0.0f);
    if (live) a.state[k][b * kQuantBlock + i] = quantise8(a.map[k], s[k], m);
    if (i == 0) a.absmax[k][b] = m;
  }
}

}  // namespace

cudaError_t launch_blockwise8_step(const Blockwise8Args& args, cudaStream_t stream) {
  if (args.num_groups < 1 || args.num_groups > kMaxOptimGroups || args.num_blocks < 0 || args.step < 1 ||
      args.num_blocks > 0x7fffffff)
    return cudaErrorInvalidValue;
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
    for (int g = 0; g < args.num_groups; ++g)
      a.step[g] = Rule::template make_step<float>(args.hyper[g], args.step, args.hyper[g].lr, args.scalars[g]);
    blockwise8_step_kernel<Rule, decltype(slots)::value>
        <<<static_cast<unsigned>(args.num_blocks), kQuantBlock, 0, stream>>>(a);
    result = cudaGetLastError();
  });
  return result;
}

}  // namespace ember::kernels
