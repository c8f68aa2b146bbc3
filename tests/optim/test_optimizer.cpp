// Optimizer over FlatParameters on the CPU: parameter groups with their own hyperparameters,
// frozen parameters and padding left alone, state_dict round trips that continue bit for
// bit, capturable mode, state sizes, hyperparameter changes; the CPU step's split over threads
// and its known-flags loops.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "optim/cpu_known_flags.h"
#include "optim/optimizer.h"
#include "tests/optim/cases.h"
#include "tests/support/compare.h"
#include "tests/support/thread_count.h"

namespace ember {
namespace {

using optim::FlatParameters;
using optim::Optimizer;
using testing::bit_equal;

// A small model: awkward sizes, a frozen tensor between trainable ones, two groups.
struct Model {
  std::vector<std::pair<std::string, Tensor>> named;
  explicit Model(uint64_t seed) {
    const std::vector<std::pair<std::string, Shape>> shapes = {
        {"conv.weight", {3, 5}}, {"conv.bias", {3}}, {"frozen", {6}}, {"fc.weight", {2, 7}}, {"fc.bias", {1}}};
    for (const auto& [name, shape] : shapes) {
      const auto v = testing::initial_values(static_cast<int>(shape_numel(shape)), seed++);
      Tensor t = from_vector(v, shape);
      t.set_requires_grad(name != "frozen");
      named.emplace_back(name, t);
    }
  }
};

// Fills every trainable gradient of `flat` with step t's values (zeros in some steps), times sign.
void set_gradients(FlatParameters& flat, int t, float sign = 1.0f) {
  for (const optim::FlatEntry& e : flat.entries()) {
    if (!e.trainable) continue;
    auto g = testing::gradient_sequence(t + 1, static_cast<int>(e.numel) + 1, 1000 + e.offset)[t];
    for (float& v : g) v *= sign;
    copy_from_host(e.param.grad(), g.data() + 1, static_cast<size_t>(e.numel) * sizeof(float));
  }
}

// Parameters of the given shapes from reproducible values, all trainable.
std::vector<std::pair<std::string, Tensor>> parameters(const std::vector<std::pair<std::string, Shape>>& shapes) {
  std::vector<std::pair<std::string, Tensor>> named;
  uint64_t seed = 11;
  for (const auto& [name, shape] : shapes)
    named.emplace_back(name, from_vector(testing::initial_values(static_cast<int>(shape_numel(shape)), seed++), shape,
                                         TensorOptions().requires_grad(true)));
  return named;
}

::testing::AssertionResult same_bits(const std::vector<float>& got, const std::vector<float>& want) {
  return bit_equal(from_vector(got, {int64_t(got.size())}), from_vector(want, {int64_t(want.size())}));
}

// Sizes on both sides of the CPU step's split size (32,768 elements), odd and tiny.
const std::vector<std::pair<std::string, Shape>> kSplitShapes = {{"big", {70001}},  {"tiny", {1}},
                                                                 {"small", {5, 7}}, {"edge", {32769}},
                                                                 {"odd", {33, 3}},  {"last", {40003}}};

// The flat values after `steps` steps of `spec` from parameters(shapes), gradients times sign.
std::vector<float> values_after(const std::string& spec, const std::vector<std::pair<std::string, Shape>>& shapes,
                                int steps, float sign = 1.0f) {
  FlatParameters flat(parameters(shapes), Device::cpu());
  auto opt = optim::make_optimizer(spec, flat);
  for (int t = 0; t < steps; ++t) {
    set_gradients(flat, t, sign);
    opt->step();
  }
  return flat.values().to_vector<float>();
}

// Whether `steps` steps of `spec` change at least one element of every parameter.
bool every_parameter_moves(const std::string& spec, const std::vector<std::pair<std::string, Shape>>& shapes,
                           int steps) {
  const std::vector<float> before = values_after(spec, shapes, 0), after = values_after(spec, shapes, steps);
  const FlatParameters layout(parameters(shapes), Device::cpu());
  for (const optim::FlatEntry& e : layout.entries())
    if (std::equal(before.begin() + e.offset, before.begin() + e.offset + e.numel, after.begin() + e.offset))
      return false;
  return true;
}

TEST(Optimizer, GroupsUseTheirOwnHyperparametersAndFrozenAndPaddingStayPut) {
  Model m(1);
  FlatParameters flat(m.named, Device::cpu(), optim::group_by_prefix({"fc."}));
  auto opt = optim::make_optimizer("adam:lr=0.01,weight_decay=0.1", flat);
  opt->configure_group(1, "lr=0.1,weight_decay=0,amsgrad=true");
  EXPECT_EQ(opt->num_groups(), 2);
  EXPECT_EQ(opt->lr(0), 0.01);
  EXPECT_EQ(opt->lr(1), 0.1);
  EXPECT_TRUE(opt->hyperparameters(1).amsgrad);
  const Tensor frozen0 = flat.entry("frozen").param.clone();
  // The same steps by hand: each parameter with its group's hyperparameters, alone.
  std::vector<std::pair<std::string, Tensor>> solo;
  std::vector<std::unique_ptr<FlatParameters>> solo_flat;
  std::vector<std::unique_ptr<Optimizer>> solo_opt;
  for (const optim::FlatEntry& e : flat.entries()) {
    if (!e.trainable) continue;
    Tensor copy = e.param.detach().clone();
    copy.set_requires_grad(true);
    solo_flat.push_back(std::make_unique<FlatParameters>(optim::NamedParameters{{e.name, copy}}, Device::cpu()));
    solo_opt.push_back(std::make_unique<Optimizer>(optim::parse_optimizer_spec("adam"), *solo_flat.back()));
    solo_opt.back()->set_hyperparameters(0, opt->hyperparameters(e.group));
    solo.emplace_back(e.name, copy);
  }
  for (int t = 0; t < 30; ++t) {
    set_gradients(flat, t);
    opt->step();
    for (size_t k = 0; k < solo.size(); ++k) {
      const optim::FlatEntry& e = flat.entry(solo[k].first);
      solo_flat[k]->grads().slice(0, 0, e.numel).copy_(e.param.grad().reshape({e.numel}));
      solo_opt[k]->step();
    }
  }
  for (const auto& [name, copy] : solo) EXPECT_TRUE(bit_equal(flat.entry(name).param, copy)) << name;
  EXPECT_TRUE(bit_equal(flat.entry("frozen").param, frozen0));
  // Padding (and the frozen region of every state buffer) is still exactly zero.
  const std::vector<float> values = flat.values().to_vector<float>();
  std::vector<bool> inside(values.size(), false);
  for (const optim::FlatEntry& e : flat.entries())
    for (int64_t i = e.offset; i < e.offset + e.numel; ++i) inside[i] = true;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!inside[i]) {
      EXPECT_EQ(values[i], 0.0f) << "padding " << i;
    }
  }
  for (const std::string& name : opt->state_names()) {
    const std::vector<float> s = opt->state(name).to_vector<float>();
    for (const optim::FlatEntry& e : flat.entries())
      for (int64_t i = e.offset; i < e.offset + e.numel; ++i) inside[i] = e.trainable;
    for (size_t i = 0; i < s.size(); ++i) {
      if (!inside[i]) {
        EXPECT_EQ(s[i], 0.0f) << name << " " << i;
      }
    }
  }
}

// Runs `steps` steps of `spec` on a fresh Model; with `split` > 0 the run stops after
// `split` steps, saves parameters and optimizer state, and a new model and optimizer load
// them and finish. Returns the final flat values and states.
std::vector<Tensor> run(const std::string& spec, int steps, int split) {
  Model m(5);
  auto flat = std::make_unique<FlatParameters>(m.named, Device::cpu(), optim::group_by_prefix({"fc."}));
  auto opt = optim::make_optimizer(spec, *flat);
  opt->configure_group(1, "lr=0.003");
  for (int t = 0; t < steps; ++t) {
    if (t == split) {
      const optim::StateDict sd = opt->state_dict();
      const nlohmann::json meta = nlohmann::json::parse(sd.meta.dump());  // survives JSON text
      Model fresh(99);                                                    // different initial values, overwritten below
      for (size_t k = 0; k < fresh.named.size(); ++k) {
        NoGradGuard no_grad;
        fresh.named[k].second.copy_(m.named[k].second);
      }
      auto flat2 = std::make_unique<FlatParameters>(fresh.named, Device::cpu(), optim::group_by_prefix({"fc."}));
      auto opt2 = optim::make_optimizer(spec, *flat2);
      opt2->load_state_dict({sd.tensors, meta});
      EXPECT_EQ(opt2->step_count(), split);
      EXPECT_EQ(opt2->lr(1), 0.003);
      opt = std::move(opt2);
      flat = std::move(flat2);
      m = std::move(fresh);
    }
    set_gradients(*flat, t);
    opt->step();
  }
  std::vector<Tensor> out = {flat->values().clone()};
  for (const std::string& name : opt->state_names()) out.push_back(opt->state(name).clone());
  return out;
}

TEST(Optimizer, StateDictRoundTripContinuesBitForBit) {
  for (const std::string spec :
       {"sgd:lr=0.1,momentum=0.9,weight_decay=0.01", "nag:lr=0.05", "rmsprop:momentum=0.5,centered=true",
        "adagrad:lr_decay=0.01,initial_accumulator_value=0.1", "adadelta", "adam:amsgrad=true", "adamw:lr=0.01",
        "adam:capturable=true", "nadam:weight_decay=0.1", "nadam:capturable=true", "radam", "adamax",
        "asgd:t0=5", "asgd:t0=5,capturable=true", "rprop", "adafactor:weight_decay=0.1", "adafactor:capturable=true",
        "muon:lr=0.02", "muon:capturable=true", "adam+rprop", "lion:lr=0.01,weight_decay=0.1",
        "lion:capturable=true", "muon+lion", "sfadamw:lr=0.01,weight_decay=0.1,warmup_steps=20",
        "sfsgd:lr=0.1,r=1", "sfadamw:capturable=true", "muon+sfsgd"}) {
    SCOPED_TRACE(spec);
    const std::vector<Tensor> whole = run(spec, 33, -1), split = run(spec, 33, 14);
    ASSERT_EQ(whole.size(), split.size());
    for (size_t k = 0; k < whole.size(); ++k) EXPECT_TRUE(bit_equal(split[k], whole[k])) << "buffer " << k;
  }
}

TEST(Optimizer, StateDictNamesTensorsLikeTorchAndChecksWhatItLoads) {
  Model m(1);
  FlatParameters flat(m.named, Device::cpu());
  auto opt = optim::make_optimizer("adam:amsgrad=true", flat);
  set_gradients(flat, 0);
  opt->step();
  const optim::StateDict sd = opt->state_dict();
  EXPECT_EQ(sd.tensors.size(), 4u * 3u);  // 4 trainable parameters x 3 states
  const Tensor& m_fc = sd.tensors.at("fc.weight.exp_avg");
  EXPECT_EQ(m_fc.sizes(), (Shape{2, 7}));
  EXPECT_TRUE(m_fc.device().is_cpu());
  EXPECT_EQ(sd.meta["step"], 1);
  EXPECT_EQ(sd.meta["parts"][0]["algorithm"], "adam");
  EXPECT_EQ(sd.meta["parts"][0]["groups"][0]["amsgrad"], true);
  EXPECT_EQ(sd.tensors.count("frozen.exp_avg"), 0u);
  // A copy, not a view: later steps do not change it.
  const Tensor before = m_fc.clone();
  opt->step();
  EXPECT_TRUE(bit_equal(m_fc, before));

  auto sgd = optim::make_optimizer("sgd", flat);
  EXPECT_THROW(sgd->load_state_dict(sd), Error);  // another algorithm
  optim::StateDict missing = sd;
  missing.tensors.erase("conv.bias.exp_avg_sq");
  auto adam = optim::make_optimizer("adam", flat);
  EXPECT_THROW(adam->load_state_dict(missing), Error);
  optim::StateDict wrong_shape = sd;
  wrong_shape.tensors["conv.bias.exp_avg"] = zeros({4});
  EXPECT_THROW(adam->load_state_dict(wrong_shape), Error);
  Model other(1);
  other.named[1].second = from_vector<float>({1, 2, 3, 4}, {4}, TensorOptions().requires_grad(true));
  FlatParameters other_flat(other.named, Device::cpu());
  auto other_opt = optim::make_optimizer("adam", other_flat);
  EXPECT_THROW(other_opt->load_state_dict(sd), Error);  // a parameter of another shape
  adam->load_state_dict(sd);
  EXPECT_TRUE(adam->hyperparameters(0).amsgrad);  // hyperparameters come back too
}

TEST(Optimizer, ReportsItsStateBytesLikeTheSeedNotes) {
  Model m(1);
  FlatParameters flat(m.named, Device::cpu());
  const int64_t buffer = flat.padded_numel() * 4;
  EXPECT_EQ(optim::make_optimizer("sgd", flat)->state_bytes(), 0);
  EXPECT_EQ(optim::make_optimizer("sgd:momentum=0.9", flat)->state_bytes(), buffer);
  EXPECT_EQ(optim::make_optimizer("nag", flat)->state_bytes(), buffer);
  EXPECT_EQ(optim::make_optimizer("rmsprop", flat)->state_bytes(), buffer);
  EXPECT_EQ(optim::make_optimizer("rmsprop:momentum=0.9,centered=true", flat)->state_bytes(), 3 * buffer);
  EXPECT_EQ(optim::make_optimizer("adagrad", flat)->state_bytes(), buffer);
  EXPECT_EQ(optim::make_optimizer("adadelta", flat)->state_bytes(), 2 * buffer);
  EXPECT_EQ(optim::make_optimizer("adam", flat)->state_bytes(), 2 * buffer);  // two values per parameter
  EXPECT_EQ(optim::make_optimizer("adamw:amsgrad=true", flat)->state_bytes(), 3 * buffer);
  EXPECT_EQ(optim::make_optimizer("adam:capturable=true", flat)->state_bytes(), 2 * buffer + 8 + 16);
  EXPECT_EQ(optim::make_optimizer("nadam", flat)->state_bytes(), 2 * buffer);
  EXPECT_EQ(optim::make_optimizer("radam", flat)->state_bytes(), 2 * buffer);
  EXPECT_EQ(optim::make_optimizer("adamax", flat)->state_bytes(), 2 * buffer);
  EXPECT_EQ(optim::make_optimizer("asgd", flat)->state_bytes(), buffer);
  EXPECT_EQ(optim::make_optimizer("rprop", flat)->state_bytes(), 2 * buffer);
  // Group scalars on the device: two doubles per group (NAdam's mu_product uses one of them).
  EXPECT_EQ(optim::make_optimizer("nadam:capturable=true", flat)->state_bytes(), 2 * buffer + 8 + 16 + 16);
}

TEST(Optimizer, CapturableModeGivesTheSameBitsAsHostScalars) {
  for (const std::string spec : {"adam:lr=0.01", "sgd:lr=0.1,momentum=0.9", "adagrad:lr_decay=0.05"}) {
    SCOPED_TRACE(spec);
    Model a(3), b(3);
    FlatParameters fa(a.named, Device::cpu()), fb(b.named, Device::cpu());
    auto host = optim::make_optimizer(spec, fa);
    auto device = optim::make_optimizer(spec + ",capturable=true", fb);
    EXPECT_TRUE(device->capturable());
    for (int t = 0; t < 20; ++t) {
      if (t == 10) host->set_lr(0.002), device->set_lr(0.002);
      set_gradients(fa, t);
      set_gradients(fb, t);
      host->step();
      device->step();
    }
    EXPECT_EQ(device->step_count(), 20);
    EXPECT_EQ(device->step_tensor().to_vector<int64_t>(), (std::vector<int64_t>{20, 0}));
    EXPECT_EQ(device->lr_tensor().to_vector<double>(), (std::vector<double>{0.002}));
    EXPECT_TRUE(bit_equal(fb.values(), fa.values()));
  }
}

TEST(Optimizer, SettingTheLrKeepsTheDeviceStepCounter) {
  // A replayed CUDA graph advances the device counter without the host's count knowing; a
  // later set_lr (e.g. a schedule) must write the learning rates only.
  Model m(2);
  FlatParameters flat(m.named, Device::cpu());
  auto opt = optim::make_optimizer("adam:lr=0.01,capturable=true", flat);
  opt->step();
  const std::vector<int64_t> advanced{7, 0};
  copy_from_host(opt->step_tensor(), advanced.data(), advanced.size() * sizeof(int64_t));
  opt->set_lr(0.005);
  opt->configure_group(0, "lr=0.004");
  EXPECT_EQ(opt->step_count(), 7);
  EXPECT_EQ(opt->lr_tensor().to_vector<double>(), (std::vector<double>{0.004}));
}

TEST(Optimizer, HyperparameterChangesAreValidatedAndStateIsPlannedBeforeTheFirstStep) {
  Model m(1);
  FlatParameters flat(m.named, Device::cpu());
  auto opt = optim::make_optimizer("sgd:lr=0.1", flat);
  EXPECT_EQ(opt->state_bytes(), 0);
  opt->configure_group(0, "momentum=0.9");  // before the first step: a buffer appears
  EXPECT_EQ(opt->state_names(), (std::vector<std::string>{"momentum_buffer"}));
  EXPECT_THROW(opt->configure_group(0, "lr=-1"), UsageError);
  EXPECT_THROW(opt->configure_group(0, "beta1=0.9"), UsageError);  // not an sgd key
  EXPECT_THROW(opt->configure_group(0, "capturable=true"), UsageError);
  EXPECT_THROW(opt->set_lr(-0.5), UsageError);
  EXPECT_THROW(opt->hyperparameters(1), Error);
  set_gradients(flat, 0);
  opt->step();
  EXPECT_EQ(opt->step_count(), 1);
  auto adam = optim::make_optimizer("adam", flat);
  adam->step();
  EXPECT_THROW(adam->configure_group(0, "amsgrad=true"), UsageError);  // needs a new buffer now
  adam->configure_group(0, "lr=0.5,weight_decay=0.1");
  EXPECT_EQ(adam->lr(), 0.5);
  EXPECT_EQ(adam->name(), "adam");
  EXPECT_EQ(adam->spec(), "adam:lr=0.5,beta1=0.9,beta2=0.999,eps=1e-08,weight_decay=0.1,amsgrad=false,maximize=false");
}

// A state dict whose LAST tensor is bad: nothing of it may be loaded (issue 15: the old load
// committed groups, step count and state before it had checked the tensors).
TEST(Optimizer, ABadStateDictLeavesTheOptimizerUnchanged) {
  Model m(1);
  FlatParameters flat(m.named, Device::cpu(), optim::group_by_prefix({"fc."}));
  auto source = optim::make_optimizer("adam:lr=0.02,amsgrad=true", flat);
  for (int t = 0; t < 3; ++t) {
    set_gradients(flat, t);
    source->step();
  }
  const optim::StateDict good = source->state_dict();
  auto target = optim::make_optimizer("adam:lr=0.001", flat);
  set_gradients(flat, 7);
  target->step();
  const std::string spec_before = target->spec();
  std::vector<Tensor> states_before;
  for (const std::string& name : target->state_names()) states_before.push_back(target->state(name).clone());
  auto unchanged = [&] {
    EXPECT_EQ(target->spec(), spec_before);
    EXPECT_EQ(target->step_count(), 1);
    ASSERT_EQ(target->state_names().size(), states_before.size());
    for (size_t k = 0; k < states_before.size(); ++k)
      EXPECT_TRUE(bit_equal(target->state(target->state_names()[k]), states_before[k]));
  };
  // The tensor checked last (last part, last parameter, last slot) and the one sorting last.
  const std::string last_checked = flat.entries().back().name + ".max_exp_avg_sq";
  for (const std::string& key : {last_checked, good.tensors.rbegin()->first}) {
    SCOPED_TRACE(key);
    optim::StateDict bad = good;
    bad.tensors[key] = zeros({1}, TensorOptions(DType::Float64));  // float64: wrong for every state
    EXPECT_THROW(target->load_state_dict(bad), Error);
    unchanged();
  }
  optim::StateDict extra = good;
  extra.tensors["fc.bias.unknown"] = zeros({1});
  EXPECT_THROW(target->load_state_dict(extra), Error);
  unchanged();
  optim::StateDict bad_group = good;
  bad_group.meta["parts"][0]["groups"][1]["lr"] = -1.0;
  EXPECT_THROW(target->load_state_dict(bad_group), Error);
  unchanged();
  target->load_state_dict(good);  // and the good one loads
  EXPECT_EQ(target->step_count(), 3);
  EXPECT_TRUE(target->hyperparameters(0).amsgrad);
}

// The message says what was stored and what it was loaded into.
TEST(Optimizer, LoadingAnotherOptimizersStateIsOneClearError) {
  Model m(1);
  FlatParameters flat(m.named, Device::cpu());
  auto adam = optim::make_optimizer("adam", flat);
  adam->step();
  for (const std::string other : {"sgd:momentum=0.9", "nadam", "muon", "adam+sgd"}) {
    SCOPED_TRACE(other);
    auto target = optim::make_optimizer(other, flat);
    try {
      target->load_state_dict(adam->state_dict());
      ADD_FAILURE() << "loaded";
    } catch (const Error& e) {
      EXPECT_NE(e.message().find("optimizer state of adam (adam) cannot be loaded into"), std::string::npos)
          << e.message();
    }
    EXPECT_EQ(target->step_count(), 0);
  }
}

// ASGD's averaged parameters: swapped in for evaluation, back afterwards.
TEST(Optimizer, AsgdAveragedParametersSwapInAndBack) {
  Model m(4);
  FlatParameters flat(m.named, Device::cpu());
  auto opt = optim::make_optimizer("asgd:lr=0.05,t0=2", flat);
  EXPECT_FALSE(opt->has_averaged_parameters());  // no step yet
  for (int t = 0; t < 6; ++t) {
    set_gradients(flat, t);
    opt->step();
  }
  ASSERT_TRUE(opt->has_averaged_parameters());
  const Tensor values = flat.values().clone();
  const Tensor& ax = opt->state("ax");
  const Tensor averages = ax.clone();
  {
    optim::AveragedParameters averaged(*opt);
    EXPECT_TRUE(averaged.active());
    for (const optim::FlatEntry& e : flat.entries()) {
      if (!e.trainable) continue;
      EXPECT_TRUE(bit_equal(e.param.reshape({e.numel}), averages.slice(0, e.offset, e.offset + e.numel))) << e.name;
    }
    EXPECT_FALSE(bit_equal(flat.values(), values));  // averaging started at step 3: different
  }
  EXPECT_TRUE(bit_equal(flat.values(), values));
  EXPECT_TRUE(bit_equal(ax, averages));
  auto adam = optim::make_optimizer("adam", flat);
  adam->step();
  optim::AveragedParameters none(*adam);
  EXPECT_FALSE(none.active());
}

TEST(Optimizer, MaximizeClimbsAndZeroGradientsStillDecay) {
  // maximize: a step goes up the gradient. Weight decay acts on a zero gradient too (torch
  // skips only parameters whose .grad is None; flat gradients are never None).
  Tensor w = from_vector<float>({1.0f, 2.0f}, {2}, TensorOptions().requires_grad(true));
  FlatParameters flat({{"w", w}}, Device::cpu());
  auto opt = optim::make_optimizer("sgd:lr=0.5,maximize=true,weight_decay=0.1", flat);
  const std::vector<float> g = {1.0f, 0.0f};
  copy_from_host(w.grad(), g.data(), 8);
  opt->step();
  // g' = -g + 0.1 p; p -= 0.5 g'.
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{1.0f - 0.5f * (-1.0f + 0.1f), 2.0f - 0.5f * 0.2f}));
}

TEST(Optimizer, TheThreadCountNeverChangesTheBits) {
  // The CPU step splits segments above 32,768 elements between the threads and hands smaller
  // ones whole to one thread each, in turn: sizes on both sides of that line, odd and tiny,
  // over 1, 2 and 3 threads (more threads than this machine's cores too) give the same bits.
  for (const std::string spec : {"sgd:lr=0.05,momentum=0.9,nesterov=true", "adam:lr=0.01,amsgrad=true"}) {
    SCOPED_TRACE(spec);
    std::vector<float> first;
    {
      const testing::ThreadCountScope one(1);
      first = values_after(spec, kSplitShapes, 4);
      EXPECT_TRUE(every_parameter_moves(spec, kSplitShapes, 4));  // no segment skipped on every thread count
    }
    for (const int threads : {2, 3}) {
      const testing::ThreadCountScope many(threads);
      EXPECT_TRUE(same_bits(values_after(spec, kSplitShapes, 4), first)) << threads << " threads";
      EXPECT_TRUE(every_parameter_moves(spec, kSplitShapes, 4)) << threads << " threads";
    }
  }
}

TEST(Optimizer, CommonSettingsTakeTheKnownFlagsLoop) {
  // The dispatch in optim/cpu_step.cpp runs a specialised loop exactly when KnownFlags::of
  // gives one of kCommon: it does for the usual settings from step 2 on, and not for maximize.
  using optim::detail::KnownFlags;
  const auto common = [](const auto& list, unsigned flags) {
    return std::find(list.begin(), list.end(), flags) != list.end();
  };
  kernels::OptimHyper sgd;
  sgd.lr = 0.05, sgd.momentum = 0.9, sgd.nesterov = true, sgd.weight_decay = 0.01;
  using Sgd = KnownFlags<kernels::SgdRule>;
  EXPECT_TRUE(common(Sgd::kCommon, Sgd::of(kernels::sgd_step<float>(sgd, 2, sgd.lr))));
  EXPECT_EQ(Sgd::of(kernels::sgd_step<float>(sgd, 1, sgd.lr)), optim::detail::kUnknownFlags);  // first step
  sgd.maximize = true;
  EXPECT_EQ(Sgd::of(kernels::sgd_step<float>(sgd, 2, sgd.lr)), optim::detail::kUnknownFlags);
  kernels::OptimHyper adam;
  adam.lr = 0.01, adam.beta1 = 0.9, adam.beta2 = 0.999, adam.eps = 1e-8, adam.weight_decay = 0.01, adam.amsgrad = true;
  using AdamW = KnownFlags<kernels::AdamWRule>;
  EXPECT_TRUE(common(AdamW::kCommon, AdamW::of(kernels::adam_step<float>(adam, 1, adam.lr, true))));
  adam.beta1 = 0.3;  // torch's lerp from the other side
  EXPECT_EQ(AdamW::of(kernels::adam_step<float>(adam, 1, adam.lr, true)), optim::detail::kUnknownFlags);
}

TEST(Optimizer, CommonSettingsGiveTheGenericLoopsBits) {
  // The CPU step compiles common settings with their flags fixed (optim/cpu_known_flags.h).
  // maximize=true takes the generic loop, and with every gradient negated it performs the
  // same IEEE operations (-(-g) is g exactly): the two must agree bit for bit. Adam's steps
  // and SGD's from step 2 take the specialised loop (CommonSettingsTakeTheKnownFlagsLoop).
  for (const std::string spec :
       {"sgd:lr=0.05", "sgd:lr=0.05,weight_decay=0.01", "sgd:lr=0.05,momentum=0.9",
        "sgd:lr=0.05,momentum=0.9,weight_decay=0.01", "sgd:lr=0.05,momentum=0.9,nesterov=true",
        "sgd:lr=0.05,momentum=0.9,nesterov=true,weight_decay=0.01", "adam:lr=0.01", "adam:lr=0.01,weight_decay=0.01",
        "adam:lr=0.01,amsgrad=true", "adamw:lr=0.01", "adamw:lr=0.01,amsgrad=true", "adamw:lr=0.01,weight_decay=0"}) {
    SCOPED_TRACE(spec);
    const std::vector<float> known = values_after(spec, kSplitShapes, 5);
    EXPECT_TRUE(same_bits(values_after(spec + ",maximize=true", kSplitShapes, 5, -1.0f), known));
    EXPECT_FALSE(same_bits(values_after(spec, kSplitShapes, 4), known));  // the fifth step moved them
  }
}

}  // namespace
}  // namespace ember
