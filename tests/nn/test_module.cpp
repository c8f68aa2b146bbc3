// Module mechanics: naming and order, train/eval, to(dtype) keeping the same tensors (Note
// [stable parameter tensors]), parameters re-homed with set_storage still used by the
// layers, load_state_dict's checks.
#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/activation.h"
#include "nn/batch_norm.h"
#include "nn/conv2d.h"
#include "nn/linear.h"
#include "tests/nn/nn_test_util.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

std::shared_ptr<nn::Sequential> small_net() {
  Generator gen(1);
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Conv2d>(nn::Conv2dConfig{2, 3, 3, 1, 1, false}, &gen));
  net->push_back(std::make_shared<nn::BatchNorm2d>(3));
  net->push_back(std::make_shared<nn::ReLU>());
  auto inner = net->push_back(std::make_shared<nn::Sequential>());
  inner->push_back(std::make_shared<nn::Flatten>());
  inner->push_back(std::make_shared<nn::Linear>(3 * 4 * 4, 5, true, &gen));
  return net;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Module, NamesInRegistrationOrder) {
  auto net = small_net();
  std::vector<std::string> names, params, modules;
  for (const auto& [n, t] : net->state_dict()) names.push_back(n);
  for (const auto& [n, t] : net->named_parameters()) params.push_back(n);
  for (const auto& [n, m] : net->named_modules()) modules.push_back(n + ":" + m->type_name());
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                             "1.num_batches_tracked", "3.1.weight", "3.1.bias"}));
  EXPECT_EQ(params, (std::vector<std::string>{"0.weight", "1.weight", "1.bias", "3.1.weight", "3.1.bias"}));
  EXPECT_EQ(modules, (std::vector<std::string>{":Sequential", "0:Conv2d", "1:BatchNorm2d", "2:ReLU", "3:Sequential",
                                               "3.0:Flatten", "3.1:Linear"}));
  EXPECT_EQ(net->num_parameters(), 54 + 6 + 48 * 5 + 5);
  EXPECT_EQ(net->named_buffers().size(), 3u);
  EXPECT_EQ(net->parameters().size(), 5u);
  EXPECT_EQ(net->forward(zeros({2, 2, 4, 4})).sizes(), (Shape{2, 5}));
}

TEST(Module, TrainEvalPropagates) {
  auto net = small_net();
  EXPECT_TRUE(net->is_training());
  net->eval();
  for (const auto& [n, m] : net->named_modules()) EXPECT_FALSE(m->is_training()) << n;
  net->train();
  for (const auto& [n, m] : net->named_modules()) EXPECT_TRUE(m->is_training()) << n;
}

TEST(Module, FrozenParametersAreNotTrainable) {
  auto net = small_net();
  Tensor w = net->named_parameters()[0].second;
  w.set_requires_grad(false);
  EXPECT_EQ(net->num_parameters(true), net->num_parameters() - 54);
}

TEST(Module, ToDTypeKeepsTheSameTensors) {
  auto net = small_net();
  const auto before = net->state_dict();
  const auto values = before[0].second.to_vector<float>();
  net->to(DType::Float64);
  const auto after = net->state_dict();
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_TRUE(before[i].second.same(after[i].second)) << before[i].first;
    EXPECT_EQ(after[i].second.dtype(), i == 5 ? DType::Int64 : DType::Float64) << before[i].first;
  }
  EXPECT_TRUE(before[0].second.requires_grad());
  const auto converted = before[0].second.to_vector<double>();
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(converted[i], static_cast<double>(values[i]));
  EXPECT_EQ(net->forward(zeros({2, 2, 4, 4}, DType::Float64)).dtype(), DType::Float64);
  EXPECT_THROW(net->to(DType::Int32), Error);
}

TEST(Module, LayersFollowParametersRehomedIntoAFlatBuffer) {
  // What the optimiser's FlatParameters does: move every parameter into one storage.
  auto net = small_net();
  Tensor x = testing::uniform_tensor({2, 2, 4, 4}, 5);
  const Tensor before = net->forward(x).detach().clone();
  int64_t total = 0;
  for (const auto& [n, p] : net->named_parameters()) total += p.numel();
  Tensor flat = zeros({total});
  int64_t offset = 0;
  for (auto& [n, p] : net->named_parameters()) {
    Tensor view = flat.slice(0, offset, offset + p.numel());
    {
      NoGradGuard no_grad;
      view.copy_(p.reshape({-1}));
    }
    p.set_storage(flat.storage(), offset);
    offset += p.numel();
  }
  EXPECT_TRUE(testing::all_close(net->forward(x), before, 0, 0));
  flat.fill_(0.0);  // the layers read the flat buffer: all weights zero now
  for (float v : net->forward(x).to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(Module, LoadStateDictChecksEverything) {
  auto net = small_net(), other = small_net();
  {
    NoGradGuard no_grad;
    for (auto& [n, t] : other->named_parameters()) t.fill_(0.5);
  }
  nn::load_state_dict(*net, other->state_dict(), "test");
  for (const auto& [n, t] : net->named_parameters()) EXPECT_TRUE(testing::all_close(t, full(t.sizes(), 0.5), 0, 0)) << n;

  auto state = other->state_dict();
  auto missing = state;
  missing.erase(missing.begin() + 2);
  EXPECT_NE(message_of([&] { nn::load_state_dict(*net, missing, "ckpt"); }).find("ckpt: missing '1.bias'"),
            std::string::npos);
  auto extra = state;
  extra.emplace_back("4.weight", zeros({2}));
  EXPECT_NE(message_of([&] { nn::load_state_dict(*net, extra, "ckpt"); }).find("unexpected '4.weight'"),
            std::string::npos);
  auto wrong_shape = state;
  wrong_shape[0].second = zeros({3, 2, 3, 1});
  EXPECT_NE(message_of([&] { nn::load_state_dict(*net, wrong_shape, "ckpt"); })
                .find("'0.weight' has shape [3, 2, 3, 1], the model needs [3, 2, 3, 3]"),
            std::string::npos);
  auto wrong_dtype = state;
  wrong_dtype[5].second = zeros({}, DType::Float32);
  EXPECT_NE(message_of([&] { nn::load_state_dict(*net, wrong_dtype, "ckpt"); })
                .find("'1.num_batches_tracked' has dtype float32, the model needs int64"),
            std::string::npos);
}

TEST(Module, AFailedLoadLeavesTheModelAsItWas) {
  // Every entry but the last is valid and differs from the model's values, so a loader that
  // copied as it went would have changed the model before reaching the bad one.
  auto net = small_net();
  const auto before = net->state_dict();
  std::vector<std::vector<double>> values;
  for (const auto& [n, t] : before) values.push_back(t.to_vector<double>());
  nn::NamedTensors state;
  for (const auto& [n, t] : before) state.emplace_back(n, full(t.sizes(), 0.25, t.dtype()));
  ASSERT_EQ(state.back().first, "3.1.bias");
  state.back().second = zeros({4});  // the model needs [5]
  EXPECT_THROW(nn::load_state_dict(*net, state, "ckpt"), Error);
  const auto after = net->state_dict();
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].second.to_vector<double>(), values[i]) << after[i].first;
}

TEST(Module, RegistrationErrors) {
  struct Bad : nn::Module {
    Bad() : Module("Bad") {}
    Tensor forward(const Tensor& x) override { return x; }
    void twice() {
      register_parameter("w", zeros({2}));
      register_buffer("w", zeros({2}));
    }
    void dotted() { register_parameter("a.b", zeros({2})); }
    void integer() { register_parameter("i", zeros({2}, DType::Int64)); }
  };
  Bad bad;
  EXPECT_NE(message_of([&] { bad.twice(); }).find("already taken"), std::string::npos);
  EXPECT_THROW(bad.dotted(), Error);
  EXPECT_THROW(bad.integer(), Error);
}

}  // namespace
}  // namespace ember
