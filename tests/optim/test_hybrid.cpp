// Hybrid optimisers A+B (optim/hybrid.h): which parameters each part gets, that a hybrid is
// exactly its two optimisers run side by side, what it reports (state, spec, lrs), and its
// checkpoints.
#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "optim/hybrid.h"
#include "optim/optimizer.h"
#include "tests/optim/cases.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using optim::FlatParameters;
using testing::bit_equal;

// A small network in model order: a stem matrix, a 4-D conv weight, batch-norm vectors, a
// frozen matrix, the classifier head and its bias.
optim::NamedParameters network(uint64_t seed) {
  const std::vector<std::pair<std::string, Shape>> shapes = {
      {"stem.weight", {6, 5}}, {"conv.weight", {4, 6, 3, 3}}, {"bn.weight", {4}},   {"bn.bias", {4}},
      {"frozen", {3, 3}},      {"fc.weight", {3, 4}},         {"fc.bias", {3}}};
  optim::NamedParameters named;
  for (const auto& [name, shape] : shapes) {
    Tensor t = from_vector(testing::initial_values(static_cast<int>(shape_numel(shape)), seed++), shape);
    t.set_requires_grad(name != "frozen");
    named.emplace_back(name, t);
  }
  return named;
}

void set_gradients(FlatParameters& flat, int t) {
  for (const optim::FlatEntry& e : flat.entries()) {
    if (!e.trainable) continue;
    const auto g = testing::gradient_sequence(t + 1, static_cast<int>(e.numel) + 1, 500 + e.order)[t];
    copy_from_host(e.param.grad(), g.data() + 1, static_cast<size_t>(e.numel) * sizeof(float));
  }
}

std::vector<std::string> names(const std::vector<const optim::FlatEntry*>& entries) {
  std::vector<std::string> out;
  for (const optim::FlatEntry* e : entries) out.push_back(e->name);
  return out;
}

TEST(Hybrid, HiddenWeightsAreTheMatricesButTheOutputLayer) {
  FlatParameters flat(network(1), Device::cpu(), optim::group_by_prefix({"fc."}));
  auto opt = optim::make_optimizer("adam+sgd", flat);
  ASSERT_EQ(opt->num_parts(), 2);
  EXPECT_EQ(names(opt->part_parameters(0)), (std::vector<std::string>{"stem.weight", "conv.weight"}));
  EXPECT_EQ(names(opt->part_parameters(1)), (std::vector<std::string>{"bn.weight", "bn.bias", "fc.weight", "fc.bias"}));
  EXPECT_EQ(opt->name(), "adam+sgd");
  const std::vector<bool> hidden = optim::hidden_weights(flat);
  for (size_t i = 0; i < flat.entries().size(); ++i)
    EXPECT_EQ(hidden[i], flat.entries()[i].name == "stem.weight" || flat.entries()[i].name == "conv.weight");
}

// A+B equals A on the hidden weights and B on the rest, each alone: bit for bit.
TEST(Hybrid, IsExactlyItsTwoOptimizersSideBySide) {
  for (const std::string& spec : {std::string("adam:lr=0.01+sgd:lr=0.05,momentum=0.9"),
                                  std::string("muon:lr=0.02+adamw:lr=0.003"), std::string("nadam+asgd:t0=3"),
                                  std::string("adafactor+rprop")}) {
    SCOPED_TRACE(spec);
    FlatParameters flat(network(2), Device::cpu());
    auto hybrid = optim::make_optimizer(spec, flat);
    const optim::OptimizerSpec parsed = optim::parse_optimizer_spec(spec);
    // The same parameters split by hand: A's own hybrid-free optimiser where it can be one.
    optim::NamedParameters hidden, rest;
    for (const optim::FlatEntry* e : hybrid->part_parameters(0)) hidden.emplace_back(e->name, e->param.detach().clone());
    for (const optim::FlatEntry* e : hybrid->part_parameters(1)) rest.emplace_back(e->name, e->param.detach().clone());
    for (auto* list : {&hidden, &rest})
      for (auto& [name, t] : *list) t.set_requires_grad(true);
    FlatParameters flat_rest(rest, Device::cpu());
    auto opt_rest = optim::make_optimizer(optim::format_optimizer_spec(parsed.rest->name, parsed.rest->hyper), flat_rest);
    // A alone: Muon needs a hybrid, so it gets a decoy head (the output layer) it never updates.
    if (parsed.name == "muon") hidden.emplace_back("decoy", zeros({1, 1}).set_requires_grad(true));
    FlatParameters flat_hidden(hidden, Device::cpu());
    auto opt_hidden = optim::make_optimizer(optim::format_optimizer_spec(parsed.name, parsed.hyper) +
                                                (parsed.name == "muon" ? "+sgd:lr=0" : ""),
                                            flat_hidden);
    for (int t = 0; t < 12; ++t) {
      set_gradients(flat, t);
      for (FlatParameters* part : {&flat_hidden, &flat_rest})
        for (const optim::FlatEntry& e : part->entries())
          if (e.name != "decoy") Tensor(e.param.grad()).copy_(flat.entry(e.name).param.grad());
      hybrid->step();
      opt_hidden->step();
      opt_rest->step();
    }
    for (FlatParameters* part : {&flat_hidden, &flat_rest})
      for (const optim::FlatEntry& e : part->entries()) {
        if (e.name != "decoy") {
          EXPECT_TRUE(bit_equal(flat.entry(e.name).param, e.param)) << e.name;
        }
      }
    EXPECT_TRUE(bit_equal(flat.entry("frozen").param, network(2)[4].second));
  }
}

TEST(Hybrid, ReportsBothPartsAndABareMuonIsMuonPlusAdamW) {
  FlatParameters flat(network(3), Device::cpu());
  auto muon = optim::make_optimizer("muon", flat);
  EXPECT_EQ(muon->name(), "muon+adamw");
  EXPECT_EQ(muon->spec(),
            "muon:lr=0.001,weight_decay=0.1,momentum=0.95,nesterov=true,ns_a=3.4445,ns_b=-4.775,ns_c=2.0315,eps=1e-07,"
            "ns_steps=5,adjust_lr_fn=original+adamw:lr=0.001,beta1=0.9,beta2=0.999,eps=1e-08,weight_decay=0.01,"
            "amsgrad=false,maximize=false");
  EXPECT_EQ(optim::format_optimizer_spec(optim::parse_optimizer_spec(muon->spec())), muon->spec());
  EXPECT_EQ(muon->state_names(0), (std::vector<std::string>{"momentum_buffer"}));
  EXPECT_EQ(muon->state_names(1), (std::vector<std::string>{"exp_avg", "exp_avg_sq"}));
  // Packed state: Muon 4 bytes per hidden weight, AdamW 8 per other parameter (each padded to 4).
  const int64_t hidden = 32 + 4 * 6 * 9, rest = 4 + 4 + 12 + 4;  // stem 30 and fc.bias 3 padded to 32, 4
  EXPECT_EQ(muon->state_bytes() - muon->workspace_bytes(), 4 * hidden + 8 * rest);
  EXPECT_GT(muon->workspace_bytes(), 0);
}

TEST(Hybrid, AScheduleScalesBothPartsAndGroupsAreConfiguredPerPart) {
  FlatParameters flat(network(4), Device::cpu(), optim::group_by_prefix({"fc."}));
  auto opt = optim::make_optimizer("muon:lr=0.02+adamw:lr=0.004", flat);
  EXPECT_EQ(opt->lr(0), 0.02);
  opt->set_lr(0.01);  // half: AdamW's lr halves too
  EXPECT_EQ(opt->hyperparameters(0, 1).lr, 0.002);
  opt->configure_group(1, "lr=0.001,weight_decay=0", 1);  // the head's AdamW
  EXPECT_EQ(opt->hyperparameters(1, 1).weight_decay, 0.0);
  opt->set_lr(1, 0.02);  // the ratio of group 1 is now 0.001 / 0.01
  EXPECT_DOUBLE_EQ(opt->hyperparameters(1, 1).lr, 0.002);
  EXPECT_EQ(opt->hyperparameters(1, 0).lr, 0.02);
  EXPECT_THROW(opt->configure_group(0, "amsgrad=true", 0), UsageError);  // not a muon key
  EXPECT_THROW(opt->hyperparameters(0, 2), Error);
}

TEST(Hybrid, NeedsHiddenWeights) {
  Tensor v = zeros({5}).set_requires_grad(true), head = zeros({2, 5}).set_requires_grad(true);
  FlatParameters vectors({{"v", v}}, Device::cpu());
  FlatParameters head_only({{"v", v.detach().clone().set_requires_grad(true)}, {"head", head}}, Device::cpu());
  for (FlatParameters* flat : {&vectors, &head_only})
    for (const std::string spec : {"muon", "adam+sgd"}) {
      try {
        optim::make_optimizer(spec, *flat);
        ADD_FAILURE() << spec << " accepted";
      } catch (const UsageError& e) {
        EXPECT_NE(e.message().find("needs hidden weights (trainable parameters of rank >= 2 other than the output layer)"),
                  std::string::npos)
            << e.message();
      }
    }
}

TEST(Hybrid, StateDictRoundTripContinuesBitForBit) {
  auto run = [](int split) {
    FlatParameters flat(network(6), Device::cpu());
    auto opt = optim::make_optimizer("muon:lr=0.03+nadam:lr=0.01", flat);
    std::unique_ptr<FlatParameters> flat2;
    std::unique_ptr<optim::Optimizer> opt2;
    for (int t = 0; t < 10; ++t) {
      if (t == split) {
        optim::NamedParameters copy;
        for (const optim::FlatEntry& e : flat.entries())
          copy.emplace_back(e.name, e.param.detach().clone().set_requires_grad(e.trainable));
        flat2 = std::make_unique<FlatParameters>(copy, Device::cpu());
        opt2 = optim::make_optimizer("muon:lr=0.03+nadam:lr=0.01", *flat2);
        const optim::StateDict sd = opt->state_dict();
        opt2->load_state_dict({sd.tensors, nlohmann::json::parse(sd.meta.dump())});
        EXPECT_EQ(opt2->step_count(), split);
      }
      FlatParameters& f = flat2 ? *flat2 : flat;
      set_gradients(f, t);
      (opt2 ? *opt2 : *opt).step();
    }
    return (flat2 ? *flat2 : flat).values().clone();
  };
  EXPECT_TRUE(bit_equal(run(4), run(-1)));
}

}  // namespace
}  // namespace ember
