// The CPU executor of the 8-bit block-wise step (kernels/optim_blockwise8_rule.h): OpenMP over
// the 256-element blocks; each block dequantises its state slots, applies the 32-bit rule of
// kernels/optim_rules.h to every element, and requantises with the block's new absmax.
// Compiled with the same flags as cpu_step.cpp (no contraction: the rule's IEEE operations).
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/parallel.h"
#include "core/cpu_clones.h"
#include "optim/step_executors.h"

namespace ember::optim::detail {

namespace {

using kernels::Blockwise8Args;
using kernels::kMaxOptimStates;
using kernels::kQuantBlock;

// The largest |v[i]| of a block; NaN wins, the first one met (kernels::absmax_combine in
// order). The vectorised maximum cannot see NaN, so a block holding one is redone in order.
EMBER_CPU_CLONES float block_absmax(const float* __restrict__ v, int count) {
  float m = 0.0f;
  bool nan = false;
#pragma omp simd reduction(max : m) reduction(|| : nan)
  for (int i = 0; i < count; ++i) {
    const float a = std::fabs(v[i]);
    m = a > m ? a : m;
    nan = nan || v[i] != v[i];
  }
  if (!nan) return m;
  m = 0.0f;
  for (int i = 0; i < count; ++i) m = kernels::absmax_combine(m, std::fabs(v[i]));
  return m;
}

EMBER_CPU_CLONES void dequantise_block(const float* __restrict__ map, const uint8_t* __restrict__ q, float absmax,
                                       float* __restrict__ out, int count) {
#pragma omp simd
  for (int i = 0; i < count; ++i) out[i] = kernels::dequantise8(map, q[i], absmax);
}

EMBER_CPU_CLONES void quantise_block(const float* __restrict__ map, const float* __restrict__ v, float absmax,
                                     uint8_t* __restrict__ q, int count) {
#pragma omp simd
  for (int i = 0; i < count; ++i) q[i] = kernels::quantise8(map, v[i], absmax);
}

template <class Rule>
EMBER_CPU_CLONES void apply_block(const typename Rule::template Step<float>& step, float* __restrict__ param,
                                  const float* __restrict__ grad, float* __restrict__ s0, float* __restrict__ s1,
                                  float* __restrict__ s2, int count) {
  const auto s = step;  // a local copy: visibly loop-invariant
#pragma omp simd
  for (int i = 0; i < count; ++i) {
    float p = param[i];
    Rule::apply(s, p, grad[i], s0[i], s1[i], s2[i]);
    param[i] = p;
  }
}

// One block: dequantise each slot, apply the rule, take the new absmax, requantise. A missing
// slot is zeros the rule computes with and never uses.
template <class Rule, unsigned kSlots>
void step_block(const typename Rule::template Step<float>& step, const Blockwise8Args& a, int64_t b) {
  const kernels::Quant8Block& block = a.blocks[b];
  alignas(64) float s[kMaxOptimStates][kQuantBlock];
  for (int k = 0; k < kMaxOptimStates; ++k) {
    if ((kSlots >> k) & 1u)
      dequantise_block(a.map[k], a.state[k] + b * kQuantBlock, a.absmax[k][b], s[k], block.count);
    else
      std::fill(s[k], s[k] + block.count, 0.0f);
  }
  apply_block<Rule>(step, a.param + block.begin, a.grad + block.begin, s[0], s[1], s[2], block.count);
  for (int k = 0; k < kMaxOptimStates; ++k) {
    if (!((kSlots >> k) & 1u)) continue;
    const float absmax = block_absmax(s[k], block.count);
    quantise_block(a.map[k], s[k], absmax, a.state[k] + b * kQuantBlock, block.count);
    a.absmax[k][b] = absmax;
  }
}

}  // namespace

void cpu_blockwise8_step(const Blockwise8Args& a) {
  EMBER_CHECK(a.num_groups >= 1 && a.num_groups <= kernels::kMaxOptimGroups, "optimizer step: {} groups",
              a.num_groups);
  const bool capturable = a.device_step != nullptr;
  EMBER_CHECK(capturable || a.step >= 1, "optimizer step: step number {}", a.step);
  EMBER_CHECK(!capturable || (a.device_lr != nullptr && a.completion != nullptr),
              "optimizer step: capturable mode without learning rates or completion counter");
  const bool known = kernels::dispatch_optim_rule(a.algorithm, a.state_slots, [&](auto rule, auto slots) {
    using Rule = decltype(rule);
    typename Rule::template Step<float> steps[kernels::kMaxOptimGroups];
    for (int g = 0; g < a.num_groups; ++g)
      steps[g] = kernels::blockwise8_group_step<Rule>(a.hyper[g], a.step, a.device_lr, a.device_step, g);
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (a.num_blocks > 16)
    for (int64_t b = 0; b < a.num_blocks; ++b)
      step_block<Rule, decltype(slots)::value>(steps[a.blocks[b].group], a, b);
  });
  EMBER_CHECK(known, "optimizer step: state slots {:#x} are not a layout of this optimizer", a.state_slots);
  if (capturable && a.advance_step) a.device_step[0] += 1;
}

}  // namespace ember::optim::detail
