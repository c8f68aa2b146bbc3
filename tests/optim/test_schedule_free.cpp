// Schedule-Free AdamW and SGD (sfadamw, sfsgd; Defazio et al. 2024) against golden trajectories
// of the schedulefree package (scripts/gen_schedulefree_fixtures.py ->
// tests/optim/fixtures/schedulefree.json): three parameters of awkward sizes, 40 steps, with
// weight decay, warmup and polynomial weighting, switched to x and back every 10 steps. Then
// the eval/train switch itself, the state dict (mode and weight sums included) and bad keys.
// The rule is also checked in double against tests/optim/torch_reference.h's transcription of
// the package for every option combination, and the CPU executor against the rule bit for bit
// (test_rules.cpp).
#include <gtest/gtest.h>

#include <fstream>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "optim/optimizer.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using testing::all_close;
using testing::bit_equal;

const nlohmann::json& fixtures() {
  static const nlohmann::json json = [] {
    std::ifstream in(EMBER_SOURCE_DIR "/tests/optim/fixtures/schedulefree.json");
    EMBER_CHECK(in.good(), "cannot read tests/optim/fixtures/schedulefree.json");
    return nlohmann::json::parse(in);
  }();
  return json;
}

Tensor values(const nlohmann::json& v, const Shape& shape) { return from_vector(v.get<std::vector<float>>(), shape); }

// The case's parameters as a model, and its optimiser over them.
struct Case {
  std::vector<Shape> shapes;
  std::vector<std::pair<std::string, Tensor>> named;
  std::unique_ptr<optim::FlatParameters> flat;
  std::unique_ptr<optim::Optimizer> opt;

  explicit Case(const nlohmann::json& c) {
    const nlohmann::json& initial = c.at("initial");
    for (size_t k = 0; k < c.at("shapes").size(); ++k) {
      shapes.push_back(c.at("shapes")[k].get<Shape>());
      Tensor t = values(initial[k], shapes.back());
      t.set_requires_grad(true);
      named.emplace_back("p" + std::to_string(k), t);
    }
    flat = std::make_unique<optim::FlatParameters>(named, Device::cpu());
    opt = optim::make_optimizer(c.at("spec").get<std::string>(), *flat);
  }
  void set_gradients(const nlohmann::json& grads) {
    for (size_t k = 0; k < named.size(); ++k) {
      const std::vector<float> g = grads[k].get<std::vector<float>>();
      copy_from_host(named[k].second.grad(), g.data(), g.size() * sizeof(float));
    }
  }
  // Every parameter against `want` (one list of values per parameter).
  ::testing::AssertionResult params_close(const nlohmann::json& want, double atol, double rtol) const {
    for (size_t k = 0; k < named.size(); ++k) {
      ::testing::AssertionResult r = all_close(named[k].second, values(want[k], shapes[k]), atol, rtol);
      if (!r) return r << " (parameter " << k << ")";
    }
    return ::testing::AssertionSuccess();
  }
  Tensor state(const std::string& name, size_t k) const {
    return optim::flat_view(opt->state(name), flat->entries()[k].offset, shapes[k]);
  }
};

// Tolerances against the package's float32 CPU trajectory. Both run the same operations in
// the same order, but torch's vectorised CPU kernels fuse multiply-adds (lerp's is an FMA:
// one rounding where ember's rule, built without FMA contraction, has two): an ulp or two per
// step, carried along by z and amplified by lr * 1/(1-beta1) in y. Values reach |15| (SGD
// with lr 0.1); a float32 model of ember's rule without FMA (numpy) differs from the fixture
// by at most 1.9e-6 absolute (1.6e-7 relative, sfsgd with weight decay), 11% of
// atol 2e-6 + rtol 2e-5 |ref| at worst. In the same model, ckp1 of the wrong step exceeds
// the tolerance 190 to 400,000 times, and an lr 1e-4 too large (relative) 0.4 to 78 times.
constexpr double kAtol = 2e-6, kRtol = 2e-5;

TEST(ScheduleFree, ReplaysTheSchedulefreePackagesTrajectories) {
  const nlohmann::json& cases = fixtures().at("cases");
  ASSERT_EQ(cases.size(), 6u);
  const int eval_every = fixtures().at("eval_every");
  for (const nlohmann::json& c : cases) {
    SCOPED_TRACE(c.at("spec").get<std::string>());
    Case run(c);
    const nlohmann::json& grads = c.at("grads");
    for (size_t t = 0; t < grads.size(); ++t) {
      run.set_gradients(grads[t]);
      run.opt->step();
      ASSERT_TRUE(run.params_close(c.at("y")[t], kAtol, kRtol)) << "y after step " << t + 1;
      if ((t + 1) % eval_every != 0) continue;
      run.opt->eval();
      ASSERT_TRUE(run.params_close(c.at("x").at(std::to_string(t + 1)), kAtol, kRtol)) << "x after step " << t + 1;
      run.opt->train();
    }
    for (size_t k = 0; k < run.shapes.size(); ++k) {
      EXPECT_TRUE(all_close(run.state("z", k), values(c.at("z")[k], run.shapes[k]), kAtol, kRtol)) << "z " << k;
      if (!c.contains("exp_avg_sq")) continue;
      // Float32 moments of squares, the same operations: relative rounding only.
      EXPECT_TRUE(all_close(run.state("exp_avg_sq", k), values(c.at("exp_avg_sq")[k], run.shapes[k]), 0, 1e-5))
          << "exp_avg_sq " << k;
    }
    // The group scalars are doubles on both sides, computed by the same formulas.
    const nlohmann::json scalars = run.opt->state_dict().meta.at("parts")[0].at("scalars")[0];
    EXPECT_DOUBLE_EQ(scalars[0].get<double>(), c.at("weight_sum").get<double>());
    EXPECT_EQ(scalars[1].get<double>(), c.at("lr_max").get<double>());
  }
}

// Two parameters (one of a single element), a few steps of sfadamw or sfsgd.
struct Small {
  Tensor a = from_vector(std::vector<float>{0.5f, -1.25f, 2.0f, 0.75f, -0.1f}, {5});
  Tensor b = from_vector(std::vector<float>{1.5f}, {1});
  optim::FlatParameters flat;
  std::unique_ptr<optim::Optimizer> opt;
  explicit Small(const std::string& spec) : flat(make_named(), Device::cpu()), opt(optim::make_optimizer(spec, flat)) {}
  std::vector<std::pair<std::string, Tensor>> make_named() {
    a.set_requires_grad(true);
    b.set_requires_grad(true);
    return {{"a", a}, {"b", b}};
  }
  void steps(int n, int from = 0) {
    for (int t = from; t < from + n; ++t) {
      std::vector<float> g(8, 0.0f);
      for (int i = 0; i < 8; ++i) g[i] = 0.1f * float((i * 7 + t * 3) % 11) - 0.5f;
      copy_from_host(a.grad(), g.data(), 5 * sizeof(float));
      copy_from_host(b.grad(), g.data() + 5, sizeof(float));
      opt->step();
    }
  }
};

TEST(ScheduleFree, EvalMovesToTheAverageWithTorchsLerpAndTrainMovesBack) {
  for (const char* spec : {"sfadamw:lr=0.05,weight_decay=0.1", "sfsgd:lr=0.2,momentum=0.3"}) {
    SCOPED_TRACE(spec);
    Small s(spec);
    // Before the first step there is no z: nothing moves.
    const Tensor initial = s.flat.values().clone();
    s.opt->eval();
    EXPECT_FALSE(s.opt->train_mode());
    EXPECT_TRUE(bit_equal(s.flat.values(), initial));
    EXPECT_THROW(s.opt->step(), Error);  // the package refuses a step in eval mode too
    s.opt->train();
    s.steps(6);
    const Tensor y = s.a.detach().clone(), z = s.opt->state("z").slice(0, 0, 5).clone();
    s.opt->eval();
    // x = lerp(y, z, 1 - 1/beta1) element by element with kernels::torch_lerp in float: the
    // same IEEE operations, so bit for bit.
    const double beta1 = std::string(spec).rfind("sfsgd", 0) == 0 ? 0.3 : 0.9;
    const float w = float(kernels::schedulefree_mode_weight(beta1, true));
    std::vector<float> want = y.to_vector<float>();
    const std::vector<float> zv = z.to_vector<float>();
    for (size_t i = 0; i < want.size(); ++i)
      want[i] = kernels::torch_lerp(want[i], zv[i], w, kernels::lerp_from_self(w));
    EXPECT_TRUE(bit_equal(s.a, from_vector(want, {5})));
    EXPECT_FALSE(bit_equal(s.a, y));  // x differs from y after steps
    const Tensor x = s.a.detach().clone();
    s.opt->eval();  // already at x: nothing moves
    EXPECT_TRUE(bit_equal(s.a, x));
    s.opt->train();
    EXPECT_TRUE(s.opt->train_mode());
    // Back at exactly y: eval() kept it (the package's lerp back would round).
    EXPECT_TRUE(bit_equal(s.a, y));
    s.opt->train();  // already at y
    EXPECT_TRUE(bit_equal(s.a, y));
  }
}

TEST(ScheduleFree, OtherOptimisersIgnoreTheSwitchAndAHybridMovesOnlyItsPart) {
  Small adam("adam:lr=0.01");
  adam.steps(3);
  const Tensor before = adam.flat.values().clone();
  EXPECT_FALSE(adam.opt->schedule_free());
  adam.opt->eval();
  EXPECT_TRUE(bit_equal(adam.flat.values(), before));
  EXPECT_TRUE(adam.opt->train_mode());  // one mode only
  adam.steps(1, 3);                     // still steps

  // A hybrid: lion on the hidden weight w, sfadamw on the rest (fc, the output layer).
  Tensor w = from_vector(std::vector<float>{0.1f, 0.2f, -0.3f, 0.4f, 0.5f, -0.6f}, {2, 3});
  Tensor fc = from_vector(std::vector<float>{0.3f, -0.2f, 0.1f, 0.9f, -0.4f, 0.7f}, {2, 3});
  w.set_requires_grad(true);
  fc.set_requires_grad(true);
  optim::FlatParameters flat({{"w", w}, {"fc", fc}}, Device::cpu());
  auto opt = optim::make_optimizer("lion:lr=0.01+sfadamw:lr=0.01", flat);
  ASSERT_TRUE(opt->schedule_free());
  const std::vector<float> g = {0.1f, -0.2f, 0.3f, 0.05f, -0.5f, 0.25f};
  for (int t = 0; t < 3; ++t) {
    copy_from_host(w.grad(), g.data(), 6 * sizeof(float));
    copy_from_host(fc.grad(), g.data(), 6 * sizeof(float));
    opt->step();
  }
  const Tensor w0 = w.detach().clone(), fc0 = fc.detach().clone();
  opt->eval();
  EXPECT_TRUE(bit_equal(w, w0));    // lion's part (the hidden weight) stays
  EXPECT_FALSE(bit_equal(fc, fc0));  // sfadamw's (the output layer) moves to x
}

// A state dict taken at x (as ember-train checkpoints) loads at x; both optimisers then go
// back to y and continue bit for bit: z, exp_avg_sq, y, the weight sums, lr_max and the mode
// all round-trip. Without y a state dict at x is refused.
TEST(ScheduleFree, StateDictAtXRoundTripsAndContinuesBitForBit) {
  for (const char* spec : {"sfadamw:lr=0.05,warmup_steps=4,weight_decay=0.01", "sfsgd:lr=0.1,r=1",
                           "sfadamw:lr=0.05,capturable=true"}) {
    SCOPED_TRACE(spec);
    Small a(spec), b(spec);
    a.steps(7);
    a.opt->eval();
    const optim::StateDict sd = a.opt->state_dict();
    EXPECT_EQ(sd.meta.at("train_mode"), false);
    EXPECT_EQ(sd.tensors.count("a.y"), 1u);  // y, to continue from exactly where training was
    EXPECT_EQ(sd.tensors.count("b.y"), 1u);
    EXPECT_EQ(sd.meta.at("parts")[0].at("scalars")[0].size(), 2u);
    {
      NoGradGuard no_grad;
      b.flat.values().copy_(a.flat.values());  // the model as saved: at x
    }
    b.opt->load_state_dict({sd.tensors, nlohmann::json::parse(sd.meta.dump())});
    EXPECT_FALSE(b.opt->train_mode());
    a.opt->train();
    b.opt->train();
    a.steps(5, 7);
    b.steps(5, 7);
    EXPECT_TRUE(bit_equal(b.flat.values(), a.flat.values()));
    for (const std::string& name : a.opt->state_names()) EXPECT_TRUE(bit_equal(b.opt->state(name), a.opt->state(name)));
    optim::StateDict no_y = sd;
    no_y.tensors.erase("b.y");
    Small c(spec);
    EXPECT_THROW(c.opt->load_state_dict(no_y), Error);
    EXPECT_TRUE(c.opt->train_mode());  // nothing changed
  }
}

// Capturable mode keeps the weight sums on the device (here: in host memory through the same
// path) and computes the same steps.
TEST(ScheduleFree, CapturableModeEqualsHostMode) {
  for (const char* spec : {"sfadamw:lr=0.02,warmup_steps=3,r=0.5", "sfsgd:lr=0.1,warmup_steps=2,weight_lr_power=1"}) {
    SCOPED_TRACE(spec);
    Small host(spec), device(std::string(spec) + ",capturable=true");
    ASSERT_TRUE(device.opt->capturable());
    host.steps(9);
    device.steps(9);
    EXPECT_TRUE(bit_equal(device.flat.values(), host.flat.values()));
    EXPECT_EQ(device.opt->state_dict().meta.at("parts")[0].at("scalars"),
              host.opt->state_dict().meta.at("parts")[0].at("scalars"));
  }
}

TEST(ScheduleFree, SpecsHaveThePackagesNamesAndDefaultsAndRefuseBadValues) {
  EXPECT_EQ(optim::optimizer_keys("sfadamw"),
            (std::vector<std::string>{"lr", "beta1", "beta2", "eps", "weight_decay", "warmup_steps", "r",
                                      "weight_lr_power", "capturable"}));
  EXPECT_EQ(optim::optimizer_keys("sfsgd"), (std::vector<std::string>{"lr", "momentum", "weight_decay", "warmup_steps",
                                                                      "r", "weight_lr_power", "capturable"}));
  const optim::OptimizerSpec a = optim::parse_optimizer_spec("sfadamw");
  EXPECT_EQ(a.hyper.lr, 0.0025);
  EXPECT_EQ(a.hyper.beta1, 0.9);
  EXPECT_EQ(a.hyper.beta2, 0.999);
  EXPECT_EQ(a.hyper.eps, 1e-8);
  EXPECT_EQ(a.hyper.weight_decay, 0);
  EXPECT_EQ(a.hyper.warmup_steps, 0);
  EXPECT_EQ(a.hyper.r, 0);
  EXPECT_EQ(a.hyper.weight_lr_power, 2);
  const optim::OptimizerSpec s = optim::parse_optimizer_spec("sfsgd");
  EXPECT_EQ(s.hyper.lr, 1.0);
  EXPECT_EQ(s.hyper.momentum, 0.9);
  EXPECT_EQ(s.hyper.weight_lr_power, 2);
  try {
    optim::parse_optimizer_spec("sfadamw:betas=0.9");
    FAIL() << "an unknown key was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("valid keys: lr, beta1, beta2, eps, weight_decay, warmup_steps, r, "
                                         "weight_lr_power, capturable"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(optim::parse_optimizer_spec("sfsgd:maximize=true"), UsageError);
  for (const char* bad : {"sfadamw:beta1=0", "sfadamw:beta1=1", "sfadamw:beta2=1", "sfadamw:eps=-1",
                          "sfadamw:lr=-0.1", "sfadamw:weight_decay=-1", "sfadamw:warmup_steps=2.5",
                          "sfadamw:warmup_steps=-1", "sfadamw:weight_lr_power=-1", "sfsgd:momentum=0",
                          "sfsgd:momentum=1", "sfsgd:warmup_steps=0.5", "sfsgd:weight_lr_power=-2"})
    EXPECT_THROW(optim::parse_optimizer_spec(bad), UsageError) << bad;
  for (const char* good : {"sfadamw:beta1=0.1,beta2=0,warmup_steps=100,r=2,weight_lr_power=0",
                           "sfsgd:momentum=0.99,r=0.5,warmup_steps=0"})
    EXPECT_NO_THROW(optim::parse_optimizer_spec(good)) << good;
}

TEST(ScheduleFree, KeepsItsStateInTheFlatBuffers) {
  Small adamw("sfadamw"), sgd("sfsgd");
  EXPECT_EQ(adamw.opt->state_names(), (std::vector<std::string>{"z", "exp_avg_sq"}));
  EXPECT_EQ(sgd.opt->state_names(), (std::vector<std::string>{"z"}));
  EXPECT_EQ(adamw.opt->state_bytes(), 2 * int64_t(sizeof(float)) * adamw.flat.padded_numel());
  EXPECT_EQ(sgd.opt->state_bytes(), int64_t(sizeof(float)) * sgd.flat.padded_numel());
  EXPECT_EQ(adamw.opt->cuda_launches_per_step(), 1);
}

}  // namespace
}  // namespace ember
