// Lion (Chen et al. 2023, Algorithm 2; not in torch.optim) against golden trajectories recorded
// by scripts/gen_lion_fixtures.py (tests/optim/fixtures/lion.json): the paper's algorithm
// transcribed in float64 and bitsandbytes' Lion32bit on the CPU, one 11-element parameter over
// 30 steps of gradients with zeros. The rule itself is also checked in double against
// tests/optim/torch_reference.h's transcription for every option combination (test_rules.cpp).
#include <gtest/gtest.h>

#include <fstream>

#include "core/ops.h"
#include "optim/optimizer.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using testing::all_close;

const nlohmann::json& lion_fixtures() {
  static const nlohmann::json json = [] {
    std::ifstream in(EMBER_SOURCE_DIR "/tests/optim/fixtures/lion.json");
    EMBER_CHECK(in.good(), "cannot read tests/optim/fixtures/lion.json");
    return nlohmann::json::parse(in);
  }();
  return json;
}

Tensor values(const nlohmann::json& v) {
  const std::vector<float> f = v.get<std::vector<float>>();
  return from_vector(f, {static_cast<int64_t>(f.size())});
}

// Replays one case's gradients through ember's float32 Lion and compares every step with the
// trajectory `key`. Tolerances: every step moves each element by exactly lr (the sign) plus
// the decay, so a wrong sign, order of the moment updates or default moves an element by 2 lr
// (>= 2e-4) at once. Float32 rounding of p - lr (sign + wd p) is half an ulp of |p| <= 4 per
// step (2.4e-7); measured over the 30 steps (a float32 numpy model of the rule): 4.7e-7 from
// the float64 transcription, 9.5e-7 from bitsandbytes (which shrinks p before the sign step).
// atol 1e-5 leaves room for the rounding and fails any real difference. A sign can differ
// from a float64 run only where beta1 m + (1 - beta1) g is within float rounding of zero,
// which these gradients avoid (the zero steps give exact zeros on both sides).
void replay(const nlohmann::json& c, const char* key) {
  const std::string spec = c.at("spec");
  SCOPED_TRACE(spec + " against " + key);
  Tensor w = values(c.at("initial"));
  w.set_requires_grad(true);
  optim::FlatParameters flat({{"w", w}}, Device::cpu());
  auto opt = optim::make_optimizer(spec, flat);
  const nlohmann::json& grads = c.at("grads");
  const nlohmann::json& want = c.at(key);
  for (size_t t = 0; t < grads.size(); ++t) {
    const std::vector<float> g = grads[t].get<std::vector<float>>();
    copy_from_host(w.grad(), g.data(), g.size() * sizeof(float));
    opt->step();
    ASSERT_TRUE(all_close(w, values(want[t]), 1e-5, 0)) << "after step " << t + 1;
  }
}

TEST(Lion, MatchesThePapersAlgorithmInFloat64) {
  const nlohmann::json& cases = lion_fixtures().at("cases");
  ASSERT_GE(cases.size(), 5u);
  for (const nlohmann::json& c : cases) replay(c, "transcription");
}

TEST(Lion, MatchesBitsandbytesLion32bitOnTheCpu) {
  int compared = 0;
  for (const nlohmann::json& c : lion_fixtures().at("cases")) {
    if (!c.contains("bitsandbytes")) continue;  // maximize: bitsandbytes has no such option
    replay(c, "bitsandbytes");
    ++compared;
  }
  EXPECT_GE(compared, 4);
}

TEST(Lion, KeepsOneStateSlotAndChecksItsKeys) {
  Tensor w = zeros({1000});
  w.set_requires_grad(true);
  optim::FlatParameters flat({{"w", w}}, Device::cpu());
  auto opt = optim::make_optimizer("lion", flat);
  EXPECT_EQ(opt->state_bytes(), int64_t(sizeof(float)) * flat.padded_numel());  // exp_avg only
  EXPECT_THROW(optim::parse_optimizer_spec("lion:beta1=1"), UsageError);
  EXPECT_THROW(optim::parse_optimizer_spec("lion:beta2=-0.1"), UsageError);
  EXPECT_THROW(optim::parse_optimizer_spec("lion:eps=1e-8"), UsageError);  // Lion has no eps
  EXPECT_THROW(optim::parse_optimizer_spec("lion:weight_decay=-1"), UsageError);
}

}  // namespace
}  // namespace ember
