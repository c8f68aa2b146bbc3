// The CPU executor of the 8-bit block-wise step (kernels/optim_blockwise8_rule.h): OpenMP over
// the 256-element blocks; each block dequantises its state slots, applies the 32-bit rule of
// kernels/optim_rules.h to every element, and requantises with the block's new absmax.
// Compiled with the same flags as cpu_step.cpp (no contraction: the rule's IEEE operations).
#include <cmath>

#include "core/error.h"
#include "core/parallel.h"
#include "optim/step_executors.h"

namespace ember::optim::detail {

namespace {

using kernels::Blockwise8Args;
using kernels::kMaxOptimStates;
using kernels::kQuantBlock;

template <class Rule, unsigned kSlots>
void step_block(const typename Rule::template Step<float>& step, const Blockwise8Args& a, int64_t b) {
  const kernels::Quant8Block& block = a.blocks[b];
  float s[kMaxOptimStates][kQuantBlock] = {};
  float absmax[kMaxOptimStates] = {0.0f, 0.0f, 0.0f};
  for (int k = 0; k < kMaxOptimStates; ++k) {
    if (!((kSlots >> k) & 1u)) continue;
    const uint8_t* q = a.state[k] + b * kQuantBlock;
    for (int i = 0; i < block.count; ++i) s[k][i] = kernels::dequantise8(a.map[k], q[i], a.absmax[k][b]);
  }
  for (int i = 0; i < block.count; ++i) {
    float& p = a.param[block.begin + i];
    Rule::apply(step, p, a.grad[block.begin + i], s[0][i], s[1][i], s[2][i]);
    for (int k = 0; k < kMaxOptimStates; ++k) absmax[k] = kernels::absmax_combine(absmax[k], std::fabs(s[k][i]));
  }
  for (int k = 0; k < kMaxOptimStates; ++k) {
    if (!((kSlots >> k) & 1u)) continue;
    uint8_t* q = a.state[k] + b * kQuantBlock;
    for (int i = 0; i < block.count; ++i) q[i] = kernels::quantise8(a.map[k], s[k][i], absmax[k]);
    a.absmax[k][b] = absmax[k];
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
