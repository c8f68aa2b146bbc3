// Muon's CPU executor (kernels/optim_muon_rule.h, optim/cpu_muon.cpp) against the float64
// transcription of torch.optim.Muon (torch_reference_matrix.h) on flattened convolution
// weights and 2-D weights, wide and tall; batching by shape and group; the rules' pieces.
#include <gtest/gtest.h>

#include <cmath>

#include "core/ops.h"
#include "kernels/optim_muon_rule.h"
#include "optim/optimizer.h"
#include "tests/optim/cases.h"
#include "tests/optim/torch_reference_matrix.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using testing::torch_ref::Vec;

// Hidden weights of several shapes (two with the same flattened shape: one batch), then the
// classifier head that AdamW updates.
const std::vector<std::pair<std::string, Shape>> kShapes = {
    {"conv1", {8, 3, 3, 3}},  {"conv2", {8, 8, 3, 3}}, {"conv3", {8, 8, 3, 3}},
    {"down", {40, 3, 1, 1}},  {"mat", {6, 10}},        {"tall", {17, 5}},
    {"head", {3, 8}},
};

// The largest difference between ember and the transcription, in units of the transcription's
// largest per-step change (lr times the scaled update, plus the decay), over 10 steps.
// Why a tolerance: the update is bfloat16 (8 significant bits); the transcription sums in
// double and ember in float (another order), so a GEMM result near a rounding boundary can
// land on the neighbouring bfloat16 value, moving that element of a step by one unit in the
// last place (2^-8 to 2^-7 of its size), and the later Newton-Schulz iterations carry that
// difference on to its neighbours;
// ember's float32 parameters also round every step (1.2e-7 at values near 2). Measured: at
// most 1.8e-4 steps on an AVX2 machine (no flip); on an AVX-512 one (OpenBLAS's SkylakeX
// kernels sum in another order) 1.7e-4, but 0.0103 steps in one matrix (conv3, ns_steps=3: a
// flip). Tolerance 0.05 steps: flips pass; a wrong transposition, scale or momentum, or one
// Newton-Schulz iteration too many (measured: 0.73 to 1.6 steps in the first four settings;
// not in the fifth, whose coefficients converge by 7 iterations: 1e-4 steps), fails.
TEST(Muon, MatchesTheTorchTranscriptionOnFlattenedConvWeights) {
  for (const std::string spec : {"muon:lr=0.02", "muon:lr=0.05,momentum=0.9,nesterov=false,weight_decay=0.01,ns_steps=3",
                                 "muon:lr=0.01,adjust_lr_fn=match_rms_adamw", "muon:lr=0.01,adjust_lr_fn=spectral_unclamped",
                                 "muon:lr=0.01,ns_a=2,ns_b=-1.5,ns_c=0.5,ns_steps=7,eps=0.1"}) {
    SCOPED_TRACE(spec);
    const optim::OptimizerSpec parsed = optim::parse_optimizer_spec(spec);
    optim::NamedParameters named;
    std::vector<testing::torch_ref::MuonReference> refs;
    std::vector<Vec> want;
    uint64_t seed = 70;
    for (const auto& [name, shape] : kShapes) {
      const std::vector<float> v = testing::initial_values(static_cast<int>(shape_numel(shape)), seed++);
      named.emplace_back(name, from_vector(v, shape).set_requires_grad(true));
      refs.emplace_back(parsed.hyper, shape);
      want.emplace_back(v.begin(), v.end());
    }
    optim::FlatParameters flat(named, Device::cpu());
    auto opt = optim::make_optimizer(parsed, flat);
    ASSERT_EQ(opt->part_parameters(0).size(), kShapes.size() - 1);  // all but the head
    std::vector<double> largest_step(named.size(), 0.0), largest_diff(named.size(), 0.0);
    for (int t = 0; t < 10; ++t) {
      for (size_t k = 0; k < named.size(); ++k) {
        const auto g = testing::gradient_sequence(t + 1, static_cast<int>(named[k].second.numel()), 300 + k)[t];
        copy_from_host(named[k].second.grad(), g.data(), g.size() * sizeof(float));
        if (k + 1 == named.size()) continue;  // the head: AdamW's, tested elsewhere
        const Vec before = want[k];
        refs[k].step(want[k], Vec(g.begin(), g.end()));
        for (size_t i = 0; i < before.size(); ++i)
          largest_step[k] = std::max(largest_step[k], std::fabs(want[k][i] - before[i]));
      }
      opt->step();
      for (size_t k = 0; k + 1 < named.size(); ++k) {
        const std::vector<float> got = named[k].second.to_vector<float>();
        for (size_t i = 0; i < got.size(); ++i) {
          const double diff = std::fabs(double(got[i]) - want[k][i]);
          if (!(diff <= largest_diff[k])) largest_diff[k] = diff;  // a NaN is kept, and fails
        }
      }
    }
    for (size_t k = 0; k + 1 < named.size(); ++k) {
      EXPECT_GT(largest_step[k], 0.0) << kShapes[k].first;
      EXPECT_LE(largest_diff[k], 0.05 * largest_step[k])
          << kShapes[k].first << ": " << largest_diff[k] / largest_step[k] << " steps apart";
    }
  }
}

// Matrices of one shape and group are one batch: each gives the bits it gives alone.
TEST(Muon, BatchedMatricesEqualSingleOnesBitForBit) {
  auto weights = [](uint64_t seed, int count) {
    optim::NamedParameters named;
    for (int i = 0; i < count; ++i)
      named.emplace_back("w" + std::to_string(i),
                         from_vector(testing::initial_values(6 * 14, seed + i), {6, 14}).set_requires_grad(true));
    named.emplace_back("head", zeros({2, 6}).set_requires_grad(true));
    return named;
  };
  optim::FlatParameters batch(weights(1, 3), Device::cpu());
  auto opt = optim::make_optimizer("muon:lr=0.05", batch);
  std::vector<std::unique_ptr<optim::FlatParameters>> singles;
  std::vector<std::unique_ptr<optim::Optimizer>> opts;
  for (int i = 0; i < 3; ++i) {
    singles.push_back(std::make_unique<optim::FlatParameters>(
        optim::NamedParameters{weights(1 + i, 1)[0], {"head", zeros({2, 6}).set_requires_grad(true)}}, Device::cpu()));
    opts.push_back(optim::make_optimizer("muon:lr=0.05", *singles.back()));
  }
  for (int t = 0; t < 5; ++t) {
    for (int i = 0; i < 3; ++i) {
      const auto g = testing::gradient_sequence(t + 1, 6 * 14, 50 + i)[t];
      copy_from_host(batch.entry("w" + std::to_string(i)).param.grad(), g.data(), g.size() * sizeof(float));
      copy_from_host(singles[i]->entry("w0").param.grad(), g.data(), g.size() * sizeof(float));
      opts[i]->step();
    }
    opt->step();
  }
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(testing::bit_equal(batch.entry("w" + std::to_string(i)).param, singles[i]->entry("w0").param)) << i;
}

TEST(Muon, RulePieces) {
  // The normalisation divisor: the bfloat16 norm, at least bfloat16(eps).
  EXPECT_EQ(kernels::muon_norm(9.0, 1e-7), 3.0f);
  EXPECT_EQ(kernels::muon_norm(0.0, 1e-7), float(bfloat16(1e-7f)));
  EXPECT_EQ(kernels::muon_norm(2.0, 1e-7), float(bfloat16(std::sqrt(2.0f))));  // rounded to 8 bits
  // torch's _adjust_lr on [A, B].
  EXPECT_DOUBLE_EQ(kernels::muon_lr_scale(kernels::MuonAdjustLr::Original, 12, 3), 2.0);
  EXPECT_DOUBLE_EQ(kernels::muon_lr_scale(kernels::MuonAdjustLr::Original, 3, 12), 1.0);
  EXPECT_DOUBLE_EQ(kernels::muon_lr_scale(kernels::MuonAdjustLr::MatchRmsAdamW, 3, 100), 2.0);
  EXPECT_DOUBLE_EQ(kernels::muon_lr_scale(kernels::MuonAdjustLr::SpectralUnclamped, 3, 12), 0.5);
  // A tall matrix is stored transposed.
  kernels::MuonMatrix tall;
  tall.rows = 5, tall.cols = 2, tall.transposed = 1, tall.x_offset = 100;
  EXPECT_EQ(kernels::muon_x_index(tall, 3, 1), 100 + 1 * 5 + 3);
  // Nesterov momentum: buf = lerp(buf, g, 0.05) = 0.05 g; update = lerp(g, buf, 0.95).
  const kernels::MuonMomentumStep s = kernels::muon_momentum_step(optim::parse_optimizer_spec("muon").hyper);
  float buffer = 0;
  const float u = kernels::muon_momentum(s, 2.0f, buffer);
  EXPECT_FLOAT_EQ(buffer, 0.1f);
  EXPECT_FLOAT_EQ(u, 2.0f + 0.95f * (0.1f - 2.0f));
}

TEST(Muon, BadInputIsAUsageError) {
  Tensor conv = zeros({4, 3, 3, 3}).set_requires_grad(true), head = zeros({2, 4}).set_requires_grad(true);
  optim::FlatParameters flat({{"conv", conv}, {"head", head}}, Device::cpu());
  EXPECT_THROW(optim::make_optimizer("muon:ns_steps=100", flat), UsageError);
  EXPECT_THROW(optim::make_optimizer("muon:ns_steps=2.5", flat), UsageError);
  EXPECT_THROW(optim::make_optimizer("muon:adjust_lr_fn=none", flat), UsageError);
  EXPECT_THROW(optim::make_optimizer("muon:momentum=-1", flat), UsageError);
  EXPECT_THROW(optim::make_optimizer("adam+muon", flat), UsageError);
  auto zero_steps = optim::make_optimizer("muon:ns_steps=0", flat);  // torch allows it: the normalised momentum
  zero_steps->step();
  EXPECT_EQ(zero_steps->step_count(), 1);
}

}  // namespace
}  // namespace ember
