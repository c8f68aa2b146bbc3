// The per-element rules (kernels/optim_rules.h) against the independent transcription of
// torch.optim (torch_reference.h), for every element-wise optimiser and every option
// combination, over 35 steps of gradients that include zeros; then the CPU executor (float32,
// through FlatParameters and Optimizer) against the rule itself.
#include <gtest/gtest.h>

#include <cmath>

#include "core/ops.h"
#include "optim/optimizer.h"
#include "tests/optim/cases.h"
#include "tests/optim/torch_reference.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using testing::all_close;
using testing::torch_ref::Vec;

constexpr int kSteps = 35;
constexpr int kElements = 13;

Tensor as_tensor(const Vec& v) { return from_vector(v, {static_cast<int64_t>(v.size())}); }

Vec to_double(const std::vector<float>& v) { return Vec(v.begin(), v.end()); }

// Runs the rule of `spec` in double over the sequence, checking params, every state and
// every group scalar against the transcription after each step.
void check_rule_in_double(const std::string& text) {
  SCOPED_TRACE(text);
  const optim::OptimizerSpec spec = optim::parse_optimizer_spec(text);
  const kernels::OptimHyper& h = spec.hyper;
  const auto grads = testing::gradient_sequence(kSteps, kElements, 7);
  Vec want = to_double(testing::initial_values(kElements, 11));
  Vec got = want;
  testing::torch_ref::Optimizer reference(spec.algorithm, h, kElements);
  kernels::visit_optim_rule(spec.algorithm, [&](auto rule) {
    using Rule = decltype(rule);
    // Zero state: the rules set torch's initial values (Adagrad's sum, Rprop's step size) at step 1.
    Vec slots[kernels::kMaxOptimStates] = {Vec(kElements, 0.0), Vec(kElements, 0.0), Vec(kElements, 0.0)};
    kernels::OptimScalars scalars;
    for (int t = 1; t <= kSteps; ++t) {
      const Vec g = to_double(grads[t - 1]);
      reference.step(want, g);
      const auto step = Rule::template make_step<double>(h, t, h.lr, scalars);
      for (int i = 0; i < kElements; ++i) Rule::apply(step, got[i], g[i], slots[0][i], slots[1][i], slots[2][i]);
      scalars = Rule::next_scalars(h, t, h.lr, scalars);
      // Same operations in the same order, both in double: equal but for libm's pow (1 ulp).
      ASSERT_TRUE(all_close(as_tensor(got), as_tensor(want), 1e-15, 1e-13)) << "params after step " << t;
      for (int k = 0; k < kernels::kMaxOptimStates; ++k) {
        if (Rule::kStateNames[k] == nullptr || !((Rule::slots_needed(h) >> k) & 1u)) continue;
        ASSERT_TRUE(all_close(as_tensor(slots[k]), as_tensor(reference.state(Rule::kStateNames[k])), 1e-15, 1e-13))
            << Rule::kStateNames[k] << " after step " << t;
      }
      for (int k = 0; k < kernels::kMaxOptimScalars; ++k) {
        if (Rule::kScalarNames[k] == nullptr) continue;
        // Both float32 values (torch keeps them in float32 tensors): equal.
        ASSERT_EQ(scalars.v[k], reference.scalar(Rule::kScalarNames[k])) << Rule::kScalarNames[k] << " after step " << t;
      }
    }
  });
}

TEST(OptimRules, MatchTorchTranscriptionInDoubleForEveryOptionCombination) {
  const auto specs = testing::all_option_specs();
  EXPECT_GE(specs.size(), 300u);
  for (const std::string& spec : specs) check_rule_in_double(spec);
}

TEST(OptimRules, LerpUsesTorchsTwoFormulas) {
  // Weight below 0.5 interpolates from the start, at or above from the end: both ends exact.
  EXPECT_EQ(kernels::torch_lerp(1.0, 3.0, 0.25, kernels::lerp_from_self(0.25)), 1.5);
  EXPECT_EQ(kernels::torch_lerp(0.1f, 0.7f, 1.0f, kernels::lerp_from_self(1.0f)), 0.7f);
  EXPECT_EQ(kernels::torch_lerp(0.1f, 0.7f, 0.0f, kernels::lerp_from_self(0.0f)), 0.1f);
  EXPECT_TRUE(std::isnan(kernels::nan_maximum(1.0f, NAN)));
  EXPECT_TRUE(std::isnan(kernels::nan_maximum(NAN, 1.0f)));
  EXPECT_EQ(kernels::pick(true, -0.0f, 2.0f), -0.0f);
  EXPECT_TRUE(std::signbit(kernels::pick(true, -0.0f, 2.0f)));
  EXPECT_TRUE(std::isnan(kernels::pick(false, 1.0, double(NAN))));
}

// The float32 CPU executor (FlatParameters + Optimizer: the vectorised, threaded loop over
// the flat buffers) against the same rule applied element by element in float: the same
// IEEE operations in the same order, so bit for bit. (Float against torch's float is the
// golden-trajectory test's job; the double test above checks the arithmetic itself.)
TEST(OptimRules, CpuExecutorEqualsTheScalarRuleBitForBit) {
  for (const std::string& text : testing::all_option_specs()) {
    SCOPED_TRACE(text);
    const optim::OptimizerSpec spec = optim::parse_optimizer_spec(text);
    const kernels::OptimHyper& h = spec.hyper;
    const auto grads = testing::gradient_sequence(kSteps, kElements, 7);
    std::vector<float> want = testing::initial_values(kElements, 11);
    Tensor w = from_vector(want, {kElements});
    w.set_requires_grad(true);
    optim::FlatParameters flat({{"w", w}}, Device::cpu());
    optim::Optimizer opt(spec, flat);
    kernels::visit_optim_rule(spec.algorithm, [&](auto rule) {
      using Rule = decltype(rule);
      std::vector<float> slots[kernels::kMaxOptimStates];
      for (auto& s : slots) s.assign(kElements, 0.0f);
      kernels::OptimScalars scalars;
      for (int t = 1; t <= kSteps; ++t) {
        copy_from_host(w.grad(), grads[t - 1].data(), kElements * sizeof(float));
        opt.step();
        const auto step = Rule::template make_step<float>(h, t, h.lr, scalars);
        for (int i = 0; i < kElements; ++i)
          Rule::apply(step, want[i], grads[t - 1][i], slots[0][i], slots[1][i], slots[2][i]);
        scalars = Rule::next_scalars(h, t, h.lr, scalars);
      }
      ASSERT_TRUE(testing::bit_equal(w, from_vector(want, {kElements})));
      for (int k = 0; k < kernels::kMaxOptimStates; ++k) {
        if (!((Rule::slots_needed(h) >> k) & 1u)) continue;
        EXPECT_TRUE(testing::bit_equal(opt.state(Rule::kStateNames[k]).slice(0, 0, kElements),
                                       from_vector(slots[k], {kElements})))
            << Rule::kStateNames[k];
      }
    });
  }
}

}  // namespace
}  // namespace ember
