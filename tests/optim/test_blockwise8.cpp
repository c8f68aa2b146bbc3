// 8-bit block-wise optimiser state (adam8bit, adamw8bit, sgd8bit, lion8bit;
// kernels/optim_blockwise8_rule.h): the dynamic maps against bitsandbytes' and a float64
// transcription (tests/optim/fixtures/blockwise8.json, scripts/gen_blockwise8_fixtures.py),
// the quantiser against a brute-force nearest search, each step against a float64
// transcription of dequantise-update-requantise started from ember's own state, bitsandbytes
// 0.50's trajectories within stated bounds, the 32-bit rule for small parameters, the state
// dict and the state bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "kernels/optim_blockwise8_rule.h"
#include "optim/optimizer.h"
#include "optim/state8bit.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using kernels::kQuantBlock;
using kernels::kQuantMapSize;
using testing::all_close;
using testing::bit_equal;

const nlohmann::json& fixtures() {
  static const nlohmann::json json = [] {
    std::ifstream in(EMBER_SOURCE_DIR "/tests/optim/fixtures/blockwise8.json");
    EMBER_CHECK(in.good(), "cannot read tests/optim/fixtures/blockwise8.json");
    return nlohmann::json::parse(in);
  }();
  return json;
}

std::vector<float> map_of(bool is_signed) {
  std::vector<float> m(kQuantMapSize);
  kernels::dynamic_quant_map(is_signed, m.data());
  return m;
}

// |a - b| in float32 ulps of b.
double ulps(float a, float b) {
  if (a == b) return 0;
  return std::fabs(double(a) - double(b)) / (std::nextafter(std::fabs(b), INFINITY) - std::fabs(b));
}

TEST(Blockwise8, MapsAreTheFloat64TranscriptionAndWithinTwoUlpsOfBitsandbytes) {
  for (bool is_signed : {true, false}) {
    SCOPED_TRACE(is_signed ? "signed" : "unsigned");
    const std::string kind = is_signed ? "signed" : "unsigned";
    const std::vector<double> f64 = fixtures().at("maps").at(kind + "_float64").get<std::vector<double>>();
    const std::vector<float> bnb = fixtures().at("maps").at(kind + "_bitsandbytes").get<std::vector<float>>();
    const std::vector<float> mine = map_of(is_signed);
    ASSERT_EQ(f64.size(), size_t(kQuantMapSize));
    ASSERT_EQ(bnb.size(), size_t(kQuantMapSize));
    double worst = 0;
    for (int k = 0; k < kQuantMapSize; ++k) {
      EXPECT_EQ(mine[k], static_cast<float>(f64[k])) << "entry " << k;
      worst = std::max(worst, ulps(mine[k], bnb[k]));
      if (k > 0) {
        EXPECT_LT(mine[k - 1], mine[k]) << "entries " << k - 1 << ", " << k;  // sorted, distinct
      }
    }
    // bitsandbytes computes the midpoints and scales in float32 (measured: 1 ulp signed, 2 unsigned).
    EXPECT_LE(worst, 2.0);
    EXPECT_EQ(mine[kQuantMapSize - 1], 1.0f);
    EXPECT_EQ(is_signed ? mine[0] < 0 : mine[0] == 0.0f, true);
  }
}

// The nearest entry to x in double (ties: lower index), then bitsandbytes' sign rule.
int nearest_reference(const std::vector<float>& map, double x) {
  int best = 0;
  for (int k = 1; k < kQuantMapSize; ++k)
    if (std::fabs(x - map[k]) < std::fabs(x - map[best])) best = k;
  if (map[0] < 0 && x > 0 && map[best] < 0) best += 1;
  if (map[0] < 0 && x < 0 && map[best] >= 0 && best > 0) best -= 1;
  return best;
}

TEST(Blockwise8, QuantisesToTheNearestEntryKeepingTheSignOfSignedState) {
  Generator gen(5);
  for (bool is_signed : {true, false}) {
    const std::vector<float> map = map_of(is_signed);
    // Values over eight decades and both signs, plus every entry and every midpoint.
    Tensor u = empty({4001});
    uniform_(u, -1.0, 1.0, &gen);
    std::vector<double> xs;
    for (float v : u.to_vector<float>()) {
      const double x = std::copysign(std::pow(10.0, -8.0 * std::fabs(v)), v);
      xs.push_back(is_signed ? x : std::fabs(x));
    }
    for (int k = 0; k < kQuantMapSize; ++k) {
      xs.push_back(map[k]);
      if (k > 0) xs.push_back((double(map[k - 1]) + map[k]) / 2);
    }
    for (double x : xs) {
      const float xf = static_cast<float>(x);
      const int got = kernels::quantise8(map.data(), xf, 1.0f), want = nearest_reference(map, xf);
      // The two may differ only where x is a float32 rounding away from a midpoint.
      if (got != want) {
        EXPECT_NEAR(std::fabs(double(xf) - map[got]), std::fabs(double(xf) - map[want]), 1e-7) << "x = " << x;
      }
    }
    // Every entry comes back as itself through dequantise and quantise, at any absmax.
    for (float absmax : {1.0f, 0.75f, 3e-5f, 123.0f})
      for (int k = 0; k < kQuantMapSize; ++k) {
        const float v = kernels::dequantise8(map.data(), static_cast<uint8_t>(k), absmax);
        EXPECT_EQ(kernels::quantise8(map.data(), v, absmax), k) << "absmax " << absmax;
      }
    // A block of zeros (absmax 0) stores the zero entry; a NaN stores entry 0.
    EXPECT_EQ(map[kernels::quantise8(map.data(), 0.0f, 0.0f)], 0.0f);
    EXPECT_EQ(kernels::quantise8(map.data(), NAN, 1.0f), 0);
  }
  // The sign rule: a tiny negative momentum is not stored as 0 (nor a tiny positive one as negative).
  const std::vector<float> s = map_of(true);
  EXPECT_LT(s[kernels::quantise8(s.data(), -1e-9f, 1.0f)], 0.0f);
  EXPECT_GE(s[kernels::quantise8(s.data(), 1e-9f, 1.0f)], 0.0f);
}

const std::vector<std::string> kSpecs = {
    "adam8bit:lr=0.01",
    "adam8bit:lr=0.01,weight_decay=0.1,maximize=true",
    "adamw8bit:lr=0.01,beta1=0.8,beta2=0.99,weight_decay=0.1",
    "sgd8bit:lr=0.05,momentum=0.9,dampening=0.1,weight_decay=0.01",
    "sgd8bit:lr=0.05,momentum=0.9,nesterov=true",
    "lion8bit:lr=0.001,weight_decay=0.1",
};

// A 4,627-element parameter (19 blocks, the last of 19 elements: 8-bit state) and a 99-element
// one (32-bit state), uniform values; gradients drawn per step.
struct Model {
  Tensor w = empty({4627}), b = empty({99});
  std::unique_ptr<optim::FlatParameters> flat;
  explicit Model(uint64_t seed) {
    Generator gen(seed);
    uniform_(w, -1.0, 1.0, &gen);
    uniform_(b, -1.0, 1.0, &gen);
    w.set_requires_grad(true);
    b.set_requires_grad(true);
    flat = std::make_unique<optim::FlatParameters>(optim::NamedParameters{{"w", w}, {"b", b}}, Device::cpu());
  }
  void gradients(Generator& gen) {
    normal_(w.grad(), 0.0, 0.1, &gen);
    normal_(b.grad(), 0.0, 0.1, &gen);
  }
};

// One step of parameter w in double from ember's stored state `before`: the float64
// transcription of dequantise (map[q] * absmax), update, requantise. The per-element update
// is the rule of kernels/optim_rules.h run in double (checked against torch's algorithms in
// test_rules.cpp); what is under test here is the block machinery around it.
struct Transcribed {
  std::vector<double> p;
  std::vector<std::vector<double>> s;  // per slot, after the update
  std::vector<std::vector<float>> maps;
};

Transcribed transcribe_step(const optim::Optimizer& opt, const optim::StateDict& before, const std::vector<float>& p,
                            const std::vector<float>& g, int64_t step) {
  Transcribed tr;
  tr.p.assign(p.begin(), p.end());
  tr.s.assign(3, std::vector<double>(p.size(), 0.0));
  const std::vector<std::string> names = opt.state_names();
  for (size_t k = 0; k < names.size(); ++k) {
    tr.maps.push_back(map_of(!kernels::quant_slot_unsigned(opt.algorithm(), static_cast<int>(k))));
    const std::vector<uint8_t> q = before.tensors.at("w." + names[k]).to_vector<uint8_t>();
    const std::vector<float> a = before.tensors.at("w." + names[k] + ".absmax").to_vector<float>();
    for (size_t i = 0; i < p.size(); ++i) tr.s[k][i] = double(tr.maps[k][q[i]]) * a[i / kQuantBlock];
  }
  const optim::Hyperparameters& h = opt.hyperparameters(0);
  kernels::visit_optim_rule(opt.algorithm(), [&](auto rule) {
    using Rule = decltype(rule);
    const auto st = Rule::template make_step<double>(h, step, h.lr, kernels::OptimScalars{});
    for (size_t i = 0; i < p.size(); ++i) Rule::apply(st, tr.p[i], double(g[i]), tr.s[0][i], tr.s[1][i], tr.s[2][i]);
    return 0;
  });
  return tr;
}

// ember's stored state after the step against the transcription's requantisation. Tolerances:
// ember computes in float32, so absmax agrees to 1e-5 relative, and an index may differ only
// where the float32 and float64 values fall on two sides of a midpoint (equal distances to
// 1e-6 of the normalised range).
void check_state(const optim::Optimizer& opt, const Transcribed& tr) {
  const optim::StateDict after = opt.state_dict();
  const std::vector<std::string> names = opt.state_names();
  const int64_t n = static_cast<int64_t>(tr.p.size()), blocks = (n + kQuantBlock - 1) / kQuantBlock;
  for (size_t k = 0; k < names.size(); ++k) {
    const std::vector<uint8_t> q = after.tensors.at("w." + names[k]).to_vector<uint8_t>();
    const std::vector<float> a = after.tensors.at("w." + names[k] + ".absmax").to_vector<float>();
    int flips = 0;
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t begin = blk * kQuantBlock, end = std::min(n, begin + kQuantBlock);
      double absmax = 0;
      for (int64_t i = begin; i < end; ++i) absmax = std::max(absmax, std::fabs(tr.s[k][i]));
      ASSERT_TRUE(std::fabs(a[blk] - absmax) <= 1e-5 * absmax)
          << names[k] << " block " << blk << ": absmax " << a[blk] << ", transcription " << absmax;
      for (int64_t i = begin; i < end; ++i) {
        const double x = absmax > 0 ? tr.s[k][i] / absmax : 0.0;
        const int want = nearest_reference(tr.maps[k], x);
        if (q[i] == want) continue;
        ++flips;
        ASSERT_NEAR(std::fabs(x - tr.maps[k][q[i]]), std::fabs(x - tr.maps[k][want]), 1e-6)
            << names[k] << " element " << i << ": index " << int(q[i]) << ", transcription " << want;
      }
    }
    EXPECT_LE(flips, n / 100) << names[k] << ": more boundary cases than rounding explains";
  }
}

// The parameter agrees with the transcription to float32 rounding of the update chain: 2e-6
// absolute on |p| <= 2 (a wrong map, absmax or block moves it by a fraction of lr, >= 1e-5).
TEST(Blockwise8, EachStepIsTheFloat64TranscriptionOfDequantiseUpdateRequantise) {
  for (const std::string& spec : kSpecs) {
    SCOPED_TRACE(spec);
    Model m(1);
    auto opt = optim::make_optimizer(spec, *m.flat);
    Generator gen(2);
    for (int64_t t = 1; t <= 5; ++t) {
      m.gradients(gen);
      const optim::StateDict before = opt->state_dict();
      const std::vector<float> p = m.w.to_vector<float>(), g = m.w.grad().to_vector<float>();
      opt->step();
      const Transcribed tr = transcribe_step(*opt, before, p, g, t);
      ASSERT_TRUE(all_close(m.w, from_vector(std::vector<float>(tr.p.begin(), tr.p.end()), {4627}), 2e-6, 0))
          << "after step " << t;
      check_state(*opt, tr);
    }
  }
}

TEST(Blockwise8, SmallParametersKeepThe32BitStepExactly) {
  for (const std::string& spec : kSpecs) {
    SCOPED_TRACE(spec);
    Model m8(3), m32(3);
    auto opt8 = optim::make_optimizer(spec, *m8.flat);
    std::string spec32 = spec;
    spec32.erase(spec32.find("8bit"), 4);
    auto opt32 = optim::make_optimizer(spec32, *m32.flat);
    Generator g8(4), g32(4);
    for (int t = 0; t < 4; ++t) {
      m8.gradients(g8);
      m32.gradients(g32);
      opt8->step();
      opt32->step();
      ASSERT_TRUE(bit_equal(m8.b, m32.b)) << "step " << t + 1;
    }
    // The 8-bit parameter stays near the 32-bit one: 4 steps of |update| <= lr (Adam, Lion) or
    // a few lr |g| (SGD) move each element by 4e-2 at most; quantisation changes the update
    // by a fraction of it (measured below 1e-3 here).
    EXPECT_TRUE(all_close(m8.w, m32.w, 5e-3, 0));
    const optim::StateDict sd = opt8->state_dict();
    EXPECT_EQ(sd.tensors.at("b." + opt8->state_names()[0]).dtype(), DType::Float32);
    EXPECT_EQ(sd.tensors.at("w." + opt8->state_names()[0]).dtype(), DType::UInt8);
    EXPECT_EQ(sd.tensors.at("w." + opt8->state_names()[0]).sizes(), (Shape{19, 256}));
    EXPECT_EQ(sd.tensors.at("w." + opt8->state_names()[0] + ".absmax").sizes(), (Shape{19}));
  }
}

// bitsandbytes 0.50's Adam8bit, AdamW8bit, SGD8bit and Lion8bit on the CPU. After step 1 the
// state was zero on both sides, so the parameters agree to float32 rounding (measured 6e-8).
// Later steps dequantise state that bitsandbytes' CPU quantiser stored differently (Note
// [8-bit quantiser]): bounds from a float32 numpy model of ember's step on these data
// (measured max differences after 6 steps: adam 5.3e-4 and adamw 5.3e-4 of a 6.1e-3 total
// movement, sgd 1.6e-4 of 2.2e-2, lion 2.4e-7) with a factor of two; a wrong rule, map or
// block layout moves the parameters by the size of the updates themselves.
TEST(Blockwise8, TrajectoriesWithinBoundsOfBitsandbytesOnTheCpu) {
  const nlohmann::json& f = fixtures();
  const int64_t n = f.at("n").get<int64_t>();
  const std::vector<float> initial = f.at("initial").get<std::vector<float>>();
  const nlohmann::json& grads = f.at("grads");
  ASSERT_EQ(f.at("cases").size(), 4u);
  for (const nlohmann::json& c : f.at("cases")) {
    const std::string spec = c.at("spec");
    SCOPED_TRACE(spec);
    const double bound = spec.rfind("adam", 0) == 0 ? 1e-3 : spec.rfind("sgd", 0) == 0 ? 4e-4 : 1e-6;
    Tensor w = from_vector(initial, {n});
    w.set_requires_grad(true);
    optim::FlatParameters flat({{"w", w}}, Device::cpu());
    auto opt = optim::make_optimizer(spec, flat);
    for (size_t t = 0; t < grads.size(); ++t) {
      const std::vector<float> g = grads[t].get<std::vector<float>>();
      copy_from_host(w.grad(), g.data(), g.size() * sizeof(float));
      opt->step();
      if (t == 0) {
        const std::vector<float> want = c.at("after_first").get<std::vector<float>>();
        ASSERT_TRUE(all_close(w, from_vector(want, {n}), 1e-6, 0)) << "after step 1";
      }
    }
    const std::vector<float> want = c.at("after_last").get<std::vector<float>>();
    EXPECT_TRUE(all_close(w, from_vector(want, {n}), bound, 0)) << "after step " << grads.size();
  }
}

TEST(Blockwise8, StateDictRoundTripsAndRefusesTheOtherStateKind) {
  for (const std::string& spec : kSpecs) {
    SCOPED_TRACE(spec);
    Model a(6), b(6);
    auto opt_a = optim::make_optimizer(spec, *a.flat);
    for (int t = 0; t < 3; ++t) {
      Generator g(100 + t);
      a.gradients(g);
      opt_a->step();
    }
    const optim::StateDict sd = opt_a->state_dict();
    {
      NoGradGuard no_grad;
      b.w.copy_(a.w);
      b.b.copy_(a.b);
    }
    auto opt_b = optim::make_optimizer(spec, *b.flat);
    opt_b->load_state_dict(sd);
    for (int t = 3; t < 5; ++t) {
      Generator ga(100 + t), gb(100 + t);
      a.gradients(ga);
      b.gradients(gb);
      opt_a->step();
      opt_b->step();
    }
    EXPECT_TRUE(bit_equal(a.w, b.w));
    EXPECT_TRUE(bit_equal(a.b, b.b));

    // Into the 32-bit optimiser (and back): one clear error, nothing changed.
    std::string spec32 = spec;
    spec32.erase(spec32.find("8bit"), 4);
    Model c(6);
    auto opt32 = optim::make_optimizer(spec32, *c.flat);
    const optim::StateDict before32 = opt32->state_dict();
    try {
      opt32->load_state_dict(sd);
      ADD_FAILURE() << "an 8-bit state loaded into " << spec32;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cannot be loaded"), std::string::npos) << e.what();
    }
    EXPECT_EQ(opt32->step_count(), before32.meta.at("step").get<int64_t>());
    EXPECT_THROW(opt_b->load_state_dict(before32), Error);

    // A damaged 8-bit state (absmax of the wrong length): refused before anything changes.
    optim::StateDict bad = sd;
    const std::string key = "w." + opt_b->state_names()[0] + ".absmax";
    bad.tensors[key] = zeros({18});
    const optim::StateDict kept = opt_b->state_dict();
    EXPECT_THROW(opt_b->load_state_dict(bad), Error);
    const optim::StateDict now = opt_b->state_dict();
    for (const auto& [name, t] : kept.tensors) EXPECT_TRUE(bit_equal(now.tensors.at(name), t)) << name;
  }
}

// Capturable mode (step count and learning rates in device memory, for CUDA graphs) on the
// CPU executor: the same bits as host scalars (parameters and state), with an lr change
// half-way; the step count advances whichever launch ends the step.
TEST(Blockwise8, CapturableModeGivesTheSameBitsAsHostScalars) {
  for (const std::string& spec : kSpecs) {
    SCOPED_TRACE(spec);
    Model a(9), b(9);
    auto host = optim::make_optimizer(spec, *a.flat);
    auto device = optim::make_optimizer(spec + ",capturable=true", *b.flat);
    ASSERT_TRUE(device->capturable());
    for (int t = 0; t < 12; ++t) {
      if (t == 6) host->set_lr(0.002), device->set_lr(0.002);
      Generator ga(200 + t), gb(200 + t);
      a.gradients(ga);
      b.gradients(gb);
      host->step();
      device->step();
    }
    EXPECT_EQ(device->step_count(), 12);
    EXPECT_TRUE(bit_equal(a.w, b.w));
    EXPECT_TRUE(bit_equal(a.b, b.b));
    const optim::StateDict sa = host->state_dict(), sb = device->state_dict();
    for (const auto& [name, t] : sa.tensors) EXPECT_TRUE(bit_equal(sb.tensors.at(name), t)) << name;
  }
  // Only 8-bit blocks (the blocks' launch advances the count) and only small parameters (the
  // fused launch does).
  for (const bool blocks : {true, false}) {
    SCOPED_TRACE(blocks ? "blocks only" : "small parameters only");
    Tensor p = empty({blocks ? int64_t{5000} : int64_t{7}});
    Generator init(3);
    uniform_(p, -1.0, 1.0, &init);
    p.set_requires_grad(true);
    optim::FlatParameters flat(optim::NamedParameters{{"p", p}}, Device::cpu());
    auto opt = optim::make_optimizer("adam8bit:lr=0.01,capturable=true", flat);
    for (int t = 0; t < 3; ++t) {
      Generator g(t);
      normal_(p.grad(), 0.0, 0.1, &g);
      opt->step();
    }
    EXPECT_EQ(opt->step_count(), 3);
  }
}

TEST(Blockwise8, StateBytesCountBytesAbsmaxAndSmallParameters) {
  Model m(8);
  auto adam = optim::make_optimizer("adam8bit", *m.flat);
  // w: 19 blocks x 256 bytes and 19 absmax per slot; b: 99 floats (padded to 100) per slot;
  // the two maps (2 x 256 floats) and the block table (19 x 16 bytes).
  const int64_t per_slot = 19 * 256 + 19 * 4 + 100 * 4;
  EXPECT_EQ(adam->state_bytes(), 2 * per_slot + 2 * 256 * 4 + 19 * 16);
  auto lion = optim::make_optimizer("lion8bit", *m.flat);
  EXPECT_EQ(lion->state_bytes(), per_slot + 2 * 256 * 4 + 19 * 16);
  const optim::State8bitCounts counts = optim::state8bit_counts(*adam);
  EXPECT_EQ(counts.quantised, 1);  // w
  EXPECT_EQ(counts.float32, 1);    // b
  EXPECT_EQ(optim::describe_state8bit(*adam), "8-bit state for 1 parameters, float32 for 1 under 4096 elements");
  EXPECT_EQ(optim::describe_state8bit(*optim::make_optimizer("adam", *m.flat)), "");
}

TEST(Blockwise8, SpecsCheckTheirKeys) {
  EXPECT_THROW(optim::parse_optimizer_spec("sgd8bit:momentum=0"), UsageError);   // 8-bit state is a momentum
  EXPECT_THROW(optim::parse_optimizer_spec("adam8bit:amsgrad=true"), UsageError);  // no amsgrad in 8 bits
  EXPECT_THROW(optim::parse_optimizer_spec("lion8bit:beta1=1"), UsageError);
  const optim::OptimizerSpec s = optim::parse_optimizer_spec("adamw8bit");
  EXPECT_TRUE(s.state8bit);
  EXPECT_EQ(s.algorithm, optim::Algorithm::AdamW);
  EXPECT_EQ(s.hyper.weight_decay, 1e-2);
}

}  // namespace
}  // namespace ember
