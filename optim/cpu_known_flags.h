// Note [known flags]
// The rules are branch-free (kernels/optim_rules.h): a step computes every option's variant
// and picks one by the step's flags, which keeps the CUDA kernel and the CPU loop short and
// vectorised but costs instructions - plain SGD's CPU loop was 30 AVX2 instructions per 8
// elements, compute-bound on a core that streams 100 GB/s, where torch's fused step is a
// third faster. So the CPU executor also compiles each rule's loop with its flags fixed at
// compile time for the common settings listed here; the picks then fold away, and what is
// left is the same IEEE operations in the same order: the same bits (tested).
//
// KnownFlags<Rule>: of(step) packs a step's flags into a word (kUnknownFlags where a setting
// is not a common one), kCommon lists the words with a loop of their own, and set(step, word)
// writes a word back into a step. Rules without a specialisation run their generic loop only.
#pragma once

#include <array>

#include "kernels/optim_rules.h"

namespace ember::optim::detail {

constexpr unsigned kUnknownFlags = ~0u;

template <class Rule>
struct KnownFlags {
  using Step = typename Rule::template Step<float>;
  static constexpr std::array<unsigned, 0> kCommon{};
  static unsigned of(const Step&) { return kUnknownFlags; }
  static void set(Step&, unsigned) {}
};

// SGD: bit 0 weight decay, bit 1 momentum, bit 2 Nesterov; not maximize and not the first
// step (whose buffer starts as a copy of the gradient: one step per run).
template <>
struct KnownFlags<kernels::SgdRule> {
  using Step = kernels::SgdStep<float>;
  static constexpr std::array<unsigned, 6> kCommon{0b000, 0b001, 0b010, 0b011, 0b110, 0b111};
  static unsigned of(const Step& s) {
    if (s.maximize || s.first_step) return kUnknownFlags;
    return unsigned(s.decay) | unsigned(s.use_momentum) << 1 | unsigned(s.nesterov) << 2;
  }
  static void set(Step& s, unsigned flags) {
    s.decay = (flags & 1u) != 0;
    s.use_momentum = (flags & 2u) != 0;
    s.nesterov = (flags & 4u) != 0;
    s.maximize = false;
    s.first_step = false;
  }
};

// Adam and AdamW: bit 0 decoupled weight decay, bit 1 L2 weight decay, bit 2 AMSGrad; not
// maximize, and torch's lerp from the moment's side (|1 - beta1| < 0.5, as for every usual beta1).
template <bool kDecoupled>
struct KnownFlags<kernels::AdamRuleT<kDecoupled>> {
  using Step = kernels::AdamStep<float>;
  static constexpr std::array<unsigned, 5> kCommon{0b000, 0b001, 0b010, 0b100, 0b101};
  static unsigned of(const Step& s) {
    if (s.maximize || !s.lerp_from_self) return kUnknownFlags;
    return unsigned(s.decoupled_decay) | unsigned(s.l2_decay) << 1 | unsigned(s.amsgrad) << 2;
  }
  static void set(Step& s, unsigned flags) {
    s.decoupled_decay = (flags & 1u) != 0;
    s.l2_decay = (flags & 2u) != 0;
    s.amsgrad = (flags & 4u) != 0;
    s.maximize = false;
    s.lerp_from_self = true;
  }
};

}  // namespace ember::optim::detail
