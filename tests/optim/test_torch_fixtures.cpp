// ember against real torch.optim: golden float32 trajectories (every element-wise optimiser on
// one parameter; Adafactor and hybrids such as Muon + AdamW on several parameters of several
// shapes), LR schedules and gradient clipping recorded by scripts/gen_optim_fixtures.py
// (tests/optim/fixtures/torch_optim.json; torch is never needed to run this test).
#include <gtest/gtest.h>

#include <fstream>

#include "core/ops.h"
#include "optim/optimizer.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using testing::all_close;

const nlohmann::json& fixtures() {
  static const nlohmann::json json = [] {
    std::ifstream in(EMBER_SOURCE_DIR "/tests/optim/fixtures/torch_optim.json");
    EMBER_CHECK(in.good(), "cannot read tests/optim/fixtures/torch_optim.json");
    return nlohmann::json::parse(in);
  }();
  return json;
}

Tensor floats(const nlohmann::json& values) {
  const std::vector<float> v = values.get<std::vector<float>>();
  return from_vector(v, {static_cast<int64_t>(v.size())});
}

// Same algorithm, same operation order, both in float32, but torch's vectorised CPU kernels
// fuse a + alpha * b into one FMA where ember rounds twice. Measured (torch 2.15): most
// trajectories come out bit-identical (Adagrad, Adadelta, Adam, NAdam, RAdam, Adamax, Rprop
// with their defaults); the largest deviation is 7.6e-6 absolute in plain SGD (updates up to
// 10 per step, one ulp of which is 1e-6) and 1.1e-5 relative in ASGD (a value near zero after
// averaging starts). atol 2e-5 + rtol 1e-5 fails any real difference: a wrong default, bias
// correction or step count moves values by 1e-3 or more within a few steps.
TEST(TorchFixtures, OptimizerTrajectoriesMatchTorch) {
  const nlohmann::json& cases = fixtures().at("optimizers");
  ASSERT_GE(cases.size(), 29u);
  for (const nlohmann::json& c : cases) {
    const std::string spec = c.at("spec");
    SCOPED_TRACE(spec);
    Tensor w = floats(c.at("initial"));
    w.set_requires_grad(true);
    optim::FlatParameters flat({{"w", w}}, Device::cpu());
    auto opt = optim::make_optimizer(spec, flat);
    const nlohmann::json& grads = c.at("grads");
    const nlohmann::json& params = c.at("params");
    for (size_t t = 0; t < grads.size(); ++t) {
      const std::vector<float> g = grads[t].get<std::vector<float>>();
      copy_from_host(w.grad(), g.data(), g.size() * sizeof(float));
      opt->step();
      ASSERT_TRUE(all_close(w, floats(params[t]), 2e-5, 1e-5)) << "after step " << t + 1;
    }
  }
}

// Tolerances of the multi-parameter cases, by the first optimiser of the spec (parameters up to
// 1 in size, 12 steps). Measured (torch 2.15): at most 1.2e-7 for Adafactor and for Muon, 4.8e-7
// for the hybrids' other parts (SGD with momentum, steps up to 1.4).
// Adafactor: float32 on both sides; ember rounds its norms (p, rows, columns, u) to float from
// a double sum where torch sums in float, so alpha or a moment may differ in the last bit:
// atol 1e-6 is eight such ulps.
// Muon: the orthogonalised update is bfloat16 (8 significant bits), and OpenBLAS sums the
// products in another order than torch's CPU GEMMs; no element rounded differently here, but
// one may (on another CPU or OpenBLAS kernel), moving a parameter by lr * 2^-8 * |update|,
// about 1e-4 at lr 0.02: atol 3e-4 allows a few such flips and still fails a wrong scale,
// transposition or momentum (differences of a whole step, 3e-2).
double model_atol(const std::string& spec) {
  if (spec.rfind("muon", 0) == 0) return 3e-4;
  if (spec.rfind("adafactor", 0) == 0) return 1e-6;
  return 2e-5;
}

TEST(TorchFixtures, MultiParameterTrajectoriesMatchTorch) {
  const nlohmann::json& cases = fixtures().at("models");
  ASSERT_GE(cases.size(), 6u);
  for (const nlohmann::json& c : cases) {
    const std::string spec = c.at("spec");
    SCOPED_TRACE(spec);
    optim::NamedParameters named;
    for (size_t k = 0; k < c.at("parameters").size(); ++k) {
      const nlohmann::json& p = c.at("parameters")[k];
      Tensor t = from_vector(c.at("initial")[k].get<std::vector<float>>(), p.at("shape").get<Shape>());
      t.set_requires_grad(true);
      named.emplace_back(p.at("name").get<std::string>(), t);
    }
    optim::FlatParameters flat(named, Device::cpu());
    auto opt = optim::make_optimizer(spec, flat);
    const nlohmann::json& steps = c.at("steps");
    for (size_t t = 0; t < steps.size(); ++t) {
      for (size_t k = 0; k < named.size(); ++k) {
        const std::vector<float> g = steps[t].at("grads")[k].get<std::vector<float>>();
        copy_from_host(named[k].second.grad(), g.data(), g.size() * sizeof(float));
      }
      opt->step();
      for (size_t k = 0; k < named.size(); ++k) {
        const Tensor want = floats(steps[t].at("params")[k]).reshape(named[k].second.sizes());
        ASSERT_TRUE(all_close(named[k].second, want, model_atol(spec), 1e-5))
            << named[k].first << " after step " << t + 1;
      }
    }
  }
}

// Closed forms against torch's schedulers (CosineAnnealingLR is recursive in torch):
// equal to ~1e-15 relative.
TEST(TorchFixtures, LrSchedulesMatchTorchsSchedulers) {
  for (const nlohmann::json& c : fixtures().at("schedules")) {
    const std::string spec = c.at("spec");
    SCOPED_TRACE(spec);
    const optim::LrSchedule schedule = optim::parse_lr_schedule(spec);
    const double base = c.at("base_lr");
    const int64_t total = c.at("total_steps");
    const std::vector<double> lrs = c.at("lrs").get<std::vector<double>>();
    for (int64_t t = 0; t < total; ++t) EXPECT_NEAR(schedule.lr(base, t, total), lrs[t], 1e-12 * base) << "step " << t;
  }
}

TEST(TorchFixtures, GradientClippingMatchesClipGradNorm) {
  for (const nlohmann::json& c : fixtures().at("clip")) {
    const double max_norm = c.at("max_norm");
    SCOPED_TRACE(max_norm);
    optim::NamedParameters named;
    const nlohmann::json& grads = c.at("grads");
    for (size_t k = 0; k < grads.size(); ++k) {
      Tensor p = zeros({static_cast<int64_t>(grads[k].size())});
      p.set_requires_grad(true);
      named.emplace_back("p" + std::to_string(k), p);
    }
    optim::FlatParameters flat(named, Device::cpu());
    for (size_t k = 0; k < grads.size(); ++k) {
      const std::vector<float> g = grads[k].get<std::vector<float>>();
      copy_from_host(named[k].second.grad(), g.data(), g.size() * sizeof(float));
    }
    const double norm = flat.clip_grad_norm(max_norm).item();
    // Norm: double accumulation here, float in torch: within float rounding.
    EXPECT_NEAR(norm, c.at("norm").get<double>(), 1e-6 * norm);
    for (size_t k = 0; k < grads.size(); ++k)
      EXPECT_TRUE(all_close(named[k].second.grad(), floats(c.at("clipped")[k]), 1e-7, 1e-6)) << "tensor " << k;
  }
}

}  // namespace
}  // namespace ember
