// A step over shards of the flat buffers (ZeRO-1's step, Note [flat buffer shards]) equals the
// full step bit for bit: parameters and state, for every optimiser and shard count, with two
// parameter groups, a frozen parameter and odd sizes; the state gathered from the shards is
// the full state dict, and a full state dict loads into shards; Schedule-Free's x and ASGD's
// averages of the shards are the full optimiser's. Optimisers that need whole parameters
// (Adafactor, Muon, hybrids) refuse a shard with a UsageError.
#include <gtest/gtest.h>

#include <memory>
#include <utility>
#include <string>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/dist/communicator.h"
#include "core/dist/partition.h"
#include "core/ops.h"
#include "optim/optimizer.h"
#include "optim/zero1.h"
#include "tests/support/compare.h"

namespace ember::optim {
namespace {

// Odd sizes so that shard edges cut parameters and segments; "frozen" lies between segments.
NamedParameters make_parameters(uint64_t seed) {
  const std::vector<std::pair<std::string, Shape>> shapes = {
      {"a", {3}}, {"b", {2, 5}}, {"frozen", {7}}, {"c", {1}}, {"fc.w", {4, 9}}, {"fc.b", {9}}};
  NamedParameters named;
  Generator g(seed);
  for (const auto& [name, shape] : shapes) {
    Tensor t = empty(shape);
    uniform_(t, -1, 1, &g);
    t.set_requires_grad(name != "frozen");
    named.emplace_back(name, t);
  }
  return named;
}

void set_gradients(FlatParameters& flat, uint64_t seed) {
  NoGradGuard no_grad;
  Generator g(seed);
  for (const FlatEntry& e : flat.entries())
    if (e.trainable) uniform_(e.param.grad(), -2, 2, &g);
}

class ShardedStep : public ::testing::TestWithParam<std::string> {};

TEST_P(ShardedStep, EqualsTheFullStepBitForBit) {
  for (int parts : {1, 2, 3, 5}) {
    SCOPED_TRACE(parts);
    FlatParameters full_params(make_parameters(7), Device::cpu(), group_by_prefix({"fc."}));
    FlatParameters shard_params(make_parameters(7), Device::cpu(), group_by_prefix({"fc."}));
    auto full = make_optimizer(GetParam(), full_params);
    full->configure_group(1, "lr=0.003");
    const std::vector<int64_t> counts = dist::even_parts(shard_params.padded_numel(), parts, 4);
    std::vector<std::unique_ptr<Optimizer>> shards;
    for (int r = 0; r < parts; ++r) {
      const int64_t begin = dist::displacement(counts, r);
      shards.push_back(std::make_unique<Optimizer>(parse_optimizer_spec(GetParam()), shard_params,
                                                   FlatShard{begin, begin + counts[r]}));
      shards.back()->configure_group(1, "lr=0.003");
    }
    for (uint64_t step = 0; step < 3; ++step) {
      set_gradients(full_params, 100 + step);
      set_gradients(shard_params, 100 + step);
      full->step();
      for (auto& s : shards) s->step();
    }
    EXPECT_BIT_EQUAL(shard_params.values(), full_params.values());
    for (const std::string& name : full->state_names()) {
      SCOPED_TRACE(name);
      std::vector<float> joined;
      for (auto& s : shards) {
        const std::vector<float> part = s->state(name).to_vector<float>();
        joined.insert(joined.end(), part.begin(), part.end());
      }
      EXPECT_BIT_EQUAL(from_vector(joined, {static_cast<int64_t>(joined.size())}), full->state(name));
    }
  }
}

TEST_P(ShardedStep, StateDictGathersAndLoadsIntoShards) {
  FlatParameters params(make_parameters(3), Device::cpu(), group_by_prefix({"fc."}));
  auto full = make_optimizer(GetParam(), params);
  for (uint64_t step = 0; step < 2; ++step) {
    set_gradients(params, 40 + step);
    full->step();
  }
  const StateDict want = full->state_dict();
  const std::vector<int64_t> counts = dist::even_parts(params.padded_numel(), 2, 4);
  Optimizer shard(parse_optimizer_spec(GetParam()), params, FlatShard{counts[0], counts[0] + counts[1]});
  EXPECT_TRUE(shard.sharded());
  EXPECT_THROW(shard.state_dict(), Error);
  shard.load_state_dict(want);
  EXPECT_EQ(shard.step_count(), 2);
  std::vector<Tensor> gathered;
  for (const std::string& name : shard.state_names()) {
    EXPECT_BIT_EQUAL(shard.state(name), full->state(name).slice(0, counts[0], counts[0] + counts[1]));
    gathered.push_back(full->state(name));
  }
  const StateDict rebuilt = shard.state_dict_from(gathered);
  EXPECT_EQ(rebuilt.meta, want.meta);
  ASSERT_EQ(rebuilt.tensors.size(), want.tensors.size());
  for (const auto& [name, tensor] : want.tensors) EXPECT_BIT_EQUAL(rebuilt.tensors.at(name), tensor) << name;
}

TEST(ShardedStepEdges, ShardsMustBeGranuleAligned) {
  FlatParameters params(make_parameters(1), Device::cpu());
  EXPECT_THROW(Optimizer(parse_optimizer_spec("sgd:lr=0.1"), params, FlatShard{2, 8}), Error);
  EXPECT_THROW(Optimizer(parse_optimizer_spec("sgd:lr=0.1"), params, FlatShard{0, params.padded_numel() + 4}), Error);
  Optimizer empty_shard(parse_optimizer_spec("adam:lr=0.1"), params, FlatShard{8, 8});
  EXPECT_EQ(empty_shard.state(empty_shard.state_names().at(0)).numel(), 0);
  empty_shard.step();  // nothing to update: not an error
}

// Adafactor, Muon and hybrids update whole parameters, the 8-bit optimisers quantise 256-element
// blocks of each parameter (Note [flat buffer shards]): a shard is refused with one UsageError
// naming the optimiser and the reason, also by Zero1Step on one rank (so the answer does not
// depend on the rank count); without a shard they work as ever.
TEST(ShardedStepEdges, WholeParameterOptimisersRefuseShards) {
  FlatParameters params(make_parameters(5), Device::cpu(), group_by_prefix({"fc."}));
  const std::unique_ptr<dist::Communicator> one_rank = dist::make_local_communicator();
  const std::pair<const char*, const char*> cases[] = {{"adafactor:lr=0.01", "whole parameters"},
                                                       {"muon:lr=0.02", "whole parameters"},
                                                       {"muon:lr=0.02+sgd:lr=0.1", "whole parameters"},
                                                       {"adam:lr=0.01+sgd:lr=0.1", "whole parameters"},
                                                       {"adam8bit:lr=0.01", "256-element blocks"},
                                                       {"lion8bit:lr=0.001", "256-element blocks"}};
  for (const auto& [spec, reason] : cases) {
    SCOPED_TRACE(spec);
    try {
      Optimizer sharded(parse_optimizer_spec(spec), params, FlatShard{0, 8});
      ADD_FAILURE() << "a sharded " << spec << " was accepted";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(parse_optimizer_spec(spec).full_name()), std::string::npos) << e.what();
    }
    EXPECT_THROW({ Zero1Step zero(*one_rank, params, parse_optimizer_spec(spec)); }, UsageError);
    Optimizer whole(parse_optimizer_spec(spec), params, FlatShard{0, params.padded_numel()});
    EXPECT_FALSE(whole.sharded());
    set_gradients(params, 9);
    whole.step();
    EXPECT_EQ(whole.state_dict().meta.at("step"), 1);
  }
}

// Schedule-Free's eval() and ASGD's averages move each shard's own elements (the shards
// together: what Zero1Step::gather_parameters gives every rank) to the full optimiser's x or
// averages bit for bit, and train() / the second swap bring back y exactly. The shards here
// share one FlatParameters, so after every shard moved it holds the gathered result; train()
// runs in reverse so that shard 0's saved y (taken first, all of it at y) is restored last.
TEST(ShardedStepEdges, ShardsMoveToTheAverageAsTheFullOptimiser) {
  for (const char* spec : {"sfadamw:lr=0.01,warmup_steps=2", "sfsgd:lr=0.1,momentum=0.9", "asgd:lr=0.05,t0=0"}) {
    SCOPED_TRACE(spec);
    FlatParameters full_params(make_parameters(6), Device::cpu(), group_by_prefix({"fc."}));
    FlatParameters shard_params(make_parameters(6), Device::cpu(), group_by_prefix({"fc."}));
    auto full = make_optimizer(spec, full_params);
    const std::vector<int64_t> counts = dist::even_parts(shard_params.padded_numel(), 3, 4);
    std::vector<std::unique_ptr<Optimizer>> shards;
    for (int r = 0; r < 3; ++r) {
      const int64_t begin = dist::displacement(counts, r);
      shards.push_back(std::make_unique<Optimizer>(parse_optimizer_spec(spec), shard_params,
                                                   FlatShard{begin, begin + counts[r]}));
    }
    for (uint64_t step = 0; step < 3; ++step) {
      set_gradients(full_params, 60 + step);
      set_gradients(shard_params, 60 + step);
      full->step();
      for (auto& s : shards) s->step();
    }
    const Tensor y = full_params.values().clone();
    ASSERT_TRUE(::ember::testing::bit_equal(shard_params.values(), y));
    const bool asgd = std::string(spec).rfind("asgd", 0) == 0;
    if (asgd) {
      full->swap_averaged_parameters();
      for (auto& s : shards) s->swap_averaged_parameters();
    } else {
      full->eval();
      for (auto& s : shards) s->eval();
    }
    EXPECT_NE(full_params.values().to_vector<float>(), y.to_vector<float>())
        << "nothing moved: the test would not see a shard that moves nothing";
    EXPECT_BIT_EQUAL(shard_params.values(), full_params.values());
    if (asgd) {
      for (auto& s : shards) s->swap_averaged_parameters();
    } else {
      for (auto it = shards.rbegin(); it != shards.rend(); ++it) (*it)->train();
    }
    EXPECT_BIT_EQUAL(shard_params.values(), y);
  }
}

INSTANTIATE_TEST_SUITE_P(Optimizers, ShardedStep,
                         ::testing::Values("sgd:lr=0.1,momentum=0.9,weight_decay=5e-4,nesterov=true",
                                           "adam:lr=0.01", "adamw:lr=0.01,amsgrad=true", "rmsprop:lr=0.01,centered=true",
                                           "adagrad:lr=0.1,initial_accumulator_value=0.5", "adadelta:lr=1.0",
                                           "nadam:lr=0.01,weight_decay=0.01,decoupled_weight_decay=true",
                                           "radam:lr=0.01,weight_decay=0.01", "adamax:lr=0.01",
                                           "asgd:lr=0.05,t0=1", "rprop:lr=0.01", "lion:lr=0.01,weight_decay=0.1",
                                           "sfadamw:lr=0.01,warmup_steps=2,weight_decay=0.01",
                                           "sfsgd:lr=0.1,momentum=0.9,weight_decay=5e-4"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param.substr(0, info.param.find(':'));
                         });

}  // namespace
}  // namespace ember::optim
