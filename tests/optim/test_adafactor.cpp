// Adafactor's CPU executor (kernels/optim_adafactor_rule.h, optim/cpu_adafactor.cpp) against
// the float64 transcription of torch.optim.Adafactor (torch_reference_matrix.h), on vectors,
// matrices, 4-D convolution weights factored over kh x kw, 1x1 slices, a 0-dim parameter and
// parameters that span several chunks; its state as torch shapes it; its memory.
#include <gtest/gtest.h>

#include "core/ops.h"
#include "optim/optimizer.h"
#include "tests/optim/cases.h"
#include "tests/optim/torch_reference_matrix.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using testing::all_close;
using testing::torch_ref::Vec;

Tensor as_tensor(const Vec& v, const Shape& shape) { return from_vector(v, shape); }

const std::vector<std::pair<std::string, Shape>> kShapes = {
    {"scalar", {}},           {"one", {1}},           {"vec", {7}},           {"mat", {5, 7}},
    {"conv", {3, 4, 3, 3}},   {"proj", {2, 3, 1, 1}}, {"wide", {1, 9001}},    {"tall", {9001, 2}},
    {"many", {40, 30, 3, 3}}, {"long", {20003}},
};

// 20 steps of every spec on every shape: ember's float32 step against torch's algorithm in
// double. The update is normalised (rsqrt of the second moment, scaled by the parameter's
// RMS), so its float32 rounding stays relative (about 1e-7), and each step rounds the
// parameters (values up to 2: 1.2e-7 a step). Measured: at most 1.2e-6 absolute after 20
// steps. atol 5e-6 + rtol 2e-5 fails any real difference (a wrong factor, dimension or step
// count moves values by 1e-3 or more).
TEST(Adafactor, MatchesTheTorchTranscriptionInDouble) {
  for (const std::string spec : {"adafactor", "adafactor:lr=0.05,beta2_decay=-0.5,eps1=1e-5,eps2=0.01,d=2",
                                 "adafactor:weight_decay=0.1,maximize=true", "adafactor:lr=0.002,eps1=1e-20,d=1.5"}) {
    SCOPED_TRACE(spec);
    const optim::OptimizerSpec parsed = optim::parse_optimizer_spec(spec);
    optim::NamedParameters named;
    std::vector<testing::torch_ref::AdafactorReference> refs;
    std::vector<Vec> want;
    uint64_t seed = 40;
    for (const auto& [name, shape] : kShapes) {
      const std::vector<float> v = testing::initial_values(static_cast<int>(shape_numel(shape)), seed++);
      named.emplace_back(name, from_vector(v, shape).set_requires_grad(true));
      refs.emplace_back(parsed.hyper, shape);
      want.emplace_back(v.begin(), v.end());
    }
    optim::FlatParameters flat(named, Device::cpu());
    auto opt = optim::make_optimizer(parsed, flat);
    for (int t = 0; t < 20; ++t) {
      for (size_t k = 0; k < named.size(); ++k) {
        const auto g = testing::gradient_sequence(t + 1, static_cast<int>(named[k].second.numel()), 900 + k)[t];
        copy_from_host(named[k].second.grad(), g.data(), g.size() * sizeof(float));
        refs[k].step(want[k], Vec(g.begin(), g.end()));
      }
      opt->step();
    }
    const optim::StateDict sd = opt->state_dict();
    for (size_t k = 0; k < named.size(); ++k) {
      const auto& [name, shape] = kShapes[k];
      EXPECT_TRUE(all_close(named[k].second, as_tensor(want[k], shape), 5e-6, 2e-5)) << name;
      // torch's state: row_var [..., rows, 1] and col_var [..., 1, cols], or variance.
      if (shape.size() > 1) {
        Shape row = shape, col = shape;
        row.back() = 1;
        col[col.size() - 2] = 1;
        EXPECT_TRUE(all_close(sd.tensors.at(name + ".row_var"), as_tensor(refs[k].row_var(), row), 1e-12, 2e-5)) << name;
        EXPECT_TRUE(all_close(sd.tensors.at(name + ".col_var"), as_tensor(refs[k].col_var(), col), 1e-12, 2e-5)) << name;
        EXPECT_EQ(sd.tensors.count(name + ".variance"), 0u);
      } else {
        EXPECT_TRUE(all_close(sd.tensors.at(name + ".variance"), as_tensor(refs[k].variance(), shape), 1e-12, 2e-5))
            << name;
      }
    }
  }
}

TEST(Adafactor, FactoredStateIsSmallAndReported) {
  Tensor conv = zeros({64, 64, 3, 3}).set_requires_grad(true), fc = zeros({10, 512}).set_requires_grad(true);
  Tensor bias = zeros({10}).set_requires_grad(true);
  optim::FlatParameters flat({{"conv", conv}, {"fc", fc}, {"bias", bias}}, Device::cpu());
  auto opt = optim::make_optimizer("adafactor", flat);
  // row_var: 64*64*3 + 10, col_var: 64*64*3 + 512, variance: 10 (floats; one float each when empty).
  const int64_t state = 4 * ((64 * 64 * 3 + 10) + (64 * 64 * 3 + 512) + 10);
  EXPECT_EQ(opt->state_bytes() - opt->workspace_bytes(), state);
  EXPECT_LT(state, 4 * flat.trainable_numel());  // under one float per parameter (Adam: two)
  EXPECT_EQ(opt->state_names(), (std::vector<std::string>{"row_var", "col_var", "variance"}));
}

// Groups keep their own hyperparameters; a group's lr change acts from the next step.
TEST(Adafactor, GroupsUseTheirOwnHyperparameters) {
  auto make = [](uint64_t seed) {
    optim::NamedParameters named;
    for (const auto& [name, shape] : std::vector<std::pair<std::string, Shape>>{{"a", {4, 5}}, {"g1.b", {3, 3, 3}}}) {
      named.emplace_back(name, from_vector(testing::initial_values(static_cast<int>(shape_numel(shape)), seed++), shape)
                                   .set_requires_grad(true));
    }
    return named;
  };
  optim::FlatParameters both(make(1), Device::cpu(), optim::group_by_prefix({"g1."}));
  optim::FlatParameters a({make(1)[0]}, Device::cpu()), b({make(1)[1]}, Device::cpu());
  auto opt = optim::make_optimizer("adafactor:lr=0.02", both);
  opt->configure_group(1, "lr=0.005,d=2,weight_decay=0.1");
  auto opt_a = optim::make_optimizer("adafactor:lr=0.02", a);
  auto opt_b = optim::make_optimizer("adafactor:lr=0.005,d=2,weight_decay=0.1", b);
  for (int t = 0; t < 8; ++t) {
    for (optim::FlatParameters* f : {&both, &a, &b})
      for (const optim::FlatEntry& e : f->entries()) {
        const auto g = testing::gradient_sequence(t + 1, static_cast<int>(e.numel), e.name.size())[t];
        copy_from_host(e.param.grad(), g.data(), g.size() * sizeof(float));
      }
    opt->step();
    opt_a->step();
    opt_b->step();
  }
  EXPECT_TRUE(testing::bit_equal(both.entry("a").param, a.entry("a").param));
  EXPECT_TRUE(testing::bit_equal(both.entry("g1.b").param, b.entry("g1.b").param));
}

}  // namespace
}  // namespace ember
