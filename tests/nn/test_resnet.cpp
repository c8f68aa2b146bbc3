// ResNet-18 on the CPU: names, shapes and order against torchvision's (committed fixture,
// scripts/gen_nn_fixtures.py), parameter counts, init statistics, and - in float64 with
// deterministic weights - the eval logits, train logits, gradients and running statistics
// of torchvision's model, plus a gradcheck of a whole BasicBlock.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/resnet.h"
#include "tests/nn/nn_test_util.h"
#include "tests/support/compare.h"
#include "tests/support/gradcheck.h"

namespace ember {
namespace {

using testing::all_close;
using V = std::vector<Tensor>;

const nlohmann::json& fixture() {
  static const nlohmann::json data = [] {
    std::ifstream in(std::string(EMBER_SOURCE_DIR) + "/tests/nn/data/resnet18_torchvision.json");
    EXPECT_TRUE(in.good()) << "missing fixture tests/nn/data/resnet18_torchvision.json";
    return nlohmann::json::parse(in);
  }();
  return data;
}

nn::Stem stem_of(const std::string& key) { return key == "imagenet" ? nn::Stem::ImageNet : nn::Stem::Cifar; }

const char* torch_dtype(DType d) { return d == DType::Int64 ? "int64" : d == DType::Float64 ? "float64" : "float32"; }

TEST(ResNet18, ParameterCounts) {
  EXPECT_EQ(nn::ResNet18(10, nn::Stem::ImageNet).num_parameters(), 11181642);
  EXPECT_EQ(nn::ResNet18(10, nn::Stem::Cifar).num_parameters(), 11173962);
  EXPECT_EQ(nn::ResNet18(1000, nn::Stem::ImageNet).num_parameters(), 11689512);  // torchvision's resnet18
}

TEST(ResNet18, NamesShapesAndOrderMatchTorchvision) {
  for (const std::string key : {"imagenet", "cifar"}) {
    SCOPED_TRACE(key);
    const nlohmann::json& want = fixture()[key];
    nn::ResNet18 model(10, stem_of(key));
    const auto state = model.state_dict();
    ASSERT_EQ(state.size(), want["state_dict"].size());
    for (size_t i = 0; i < state.size(); ++i) {
      const auto& w = want["state_dict"][i];
      EXPECT_EQ(state[i].first, w[0].get<std::string>()) << "entry " << i;
      EXPECT_EQ(torch_dtype(state[i].second.dtype()), w[1].get<std::string>()) << state[i].first;
      EXPECT_EQ(state[i].second.sizes(), w[2].get<Shape>()) << state[i].first;
    }
    const auto params = model.named_parameters();
    ASSERT_EQ(params.size(), want["parameters"].size());
    for (size_t i = 0; i < params.size(); ++i) EXPECT_EQ(params[i].first, want["parameters"][i].get<std::string>());
    EXPECT_EQ(model.num_parameters(), want["total_parameters"].get<int64_t>());
    EXPECT_EQ(model.num_parameters(true), model.num_parameters());
  }
}

// Fills the model with the fixture's deterministic weights (formula in scripts/gen_nn_fixtures.py).
void fill_deterministic(nn::Module& model) {
  NoGradGuard no_grad;
  int j = 0;
  for (auto& [name, t] : model.state_dict()) {
    const std::string leaf = name.substr(name.rfind('.') + 1);
    if (leaf == "num_batches_tracked") {
      t.fill_(3);
      ++j;
      continue;
    }
    double offset = 0, scale = 0;
    if (name == "fc.weight" || name == "fc.bias") scale = 0.05;
    else if (t.dim() == 4) scale = 2.0 / std::sqrt(static_cast<double>(t.size(0) * t.size(2) * t.size(3)));
    else if (leaf == "weight") offset = 1.0, scale = 0.2;
    else if (leaf == "bias" || leaf == "running_mean") scale = 0.1;
    else if (leaf == "running_var") offset = 1.0, scale = 0.3;
    std::vector<double> v(t.numel());
    // Bracketed as numpy evaluates it (the phase first): arguments reach 1.5e6, where a
    // different rounding order shifts sin by ~1e-10 and the comparison would measure that.
    const double phase = 0.37 * j + 0.1;
    for (size_t k = 0; k < v.size(); ++k) v[k] = offset + scale * std::sin(0.61 * k + phase);
    t.copy_(from_vector<double>(v, t.sizes()));
    ++j;
  }
}

Tensor deterministic_input(int64_t size) {
  std::vector<double> v(2 * 3 * size * size);
  for (size_t k = 0; k < v.size(); ++k) v[k] = 1.5 * std::sin(0.013 * k + 0.5);
  return from_vector<double>(v, {2, 3, size, size});
}

Tensor json_tensor(const nlohmann::json& values, const Shape& shape) {
  return from_vector<double>(values.get<std::vector<double>>(), shape);
}

TEST(ResNet18, MatchesTorchvisionInFloat64) {
  // float64 on both sides: the only differences are summation orders, ~1e-15 relative per
  // op. Measured: logits agree to ~1e-12 relative; gradients, amplified through 20 batch
  // norms over few values per channel, to ~1e-10 of their norm. 1e-9 keeps a margin and
  // still fails any real difference (a wrong formula is off by far more than 1e-6).
  constexpr double kTol = 1e-9;
  for (const std::string key : {"imagenet", "cifar"}) {
    SCOPED_TRACE(key);
    const nlohmann::json& want = fixture()[key]["deterministic"];
    nn::ResNet18 model(10, stem_of(key));
    model.to(DType::Float64);
    fill_deterministic(model);
    const Tensor x = deterministic_input(want["image_size"].get<int64_t>());

    model.eval();
    {
      NoGradGuard no_grad;
      EXPECT_TRUE(all_close(model(x).reshape({-1}), json_tensor(want["eval_logits"], {20}), kTol, kTol)) << "eval";
    }
    model.train();
    Tensor logits = model(x);
    EXPECT_TRUE(all_close(logits.reshape({-1}), json_tensor(want["train_logits"], {20}), kTol, kTol)) << "train";
    std::vector<double> probe(20);
    for (int k = 0; k < 20; ++k) probe[k] = std::cos(0.7 * k);
    Tensor loss = sum(logits * from_vector<double>(probe, {2, 10}));
    EXPECT_NEAR(loss.item(), want["loss"].get<double>(), kTol);
    loss.backward();
    for (const auto& [name, p] : model.named_parameters()) {
      ASSERT_TRUE(p.grad().defined()) << name;
      const auto g = p.grad().to_vector<double>();
      double dot = 0, sq = 0;
      for (size_t k = 0; k < g.size(); ++k) dot += g[k] * std::cos(0.3 * k), sq += g[k] * g[k];
      // An error e in the gradient moves its norm by at most |e| and the probe (a dot
      // product with a vector of norm <= sqrt(n)) by at most |e| sqrt(n).
      const auto& w = want["grad_probes"][name];
      const double norm = w[1].get<double>(), bound = kTol * norm;
      EXPECT_NEAR(dot, w[0].get<double>(), bound * std::sqrt(static_cast<double>(g.size()))) << name;
      EXPECT_NEAR(std::sqrt(sq), norm, bound) << name;
    }
    const auto state = model.state_dict();
    for (const auto& [name, values] : want["after_step"].items()) {
      for (const auto& [n, t] : state) {
        if (n == name) {
          EXPECT_TRUE(all_close(t, json_tensor(values, t.sizes()), kTol, kTol)) << name;
        }
      }
    }
    for (const auto& [n, t] : state) {
      if (n.find("num_batches_tracked") != std::string::npos) {
        EXPECT_EQ(t.item<int64_t>(), want["num_batches_tracked_after_step"].get<int64_t>()) << n;
      }
    }
  }
}

TEST(ResNet18, TorchvisionInitStatistics) {
  Generator gen(42);
  nn::ResNet18 model(10, nn::Stem::ImageNet, &gen);
  for (const auto& [name, t] : model.named_parameters()) {
    SCOPED_TRACE(name);
    const auto v = t.to_vector<float>();
    const double n = static_cast<double>(v.size());
    double mean = 0, sq = 0;
    for (float x : v) mean += x;
    mean /= n;
    for (float x : v) sq += (x - mean) * (x - mean);
    const double std = std::sqrt(sq / n);
    if (t.dim() == 4) {
      // kaiming_normal_(mode="fan_out", nonlinearity="relu"): N(0, 2 / fan_out). Sampling
      // error of the mean is sigma/sqrt(n), of the std sigma/sqrt(2n): allow 5 of each.
      const double sigma = std::sqrt(2.0 / (t.size(0) * t.size(2) * t.size(3)));
      EXPECT_NEAR(mean, 0.0, 5 * sigma / std::sqrt(n));
      EXPECT_NEAR(std, sigma, 5 * sigma / std::sqrt(2 * n));
    } else if (name == "fc.weight" || name == "fc.bias") {
      // U(-1/sqrt(512), 1/sqrt(512)): std bound/sqrt(3); every value inside the bound.
      const double bound = 1.0 / std::sqrt(512.0), sigma = bound / std::sqrt(3.0);
      EXPECT_NEAR(mean, 0.0, 5 * sigma / std::sqrt(n));
      if (n > 100) {
        EXPECT_NEAR(std, sigma, 5 * sigma / std::sqrt(n));
      }
      for (float x : v) ASSERT_LE(std::fabs(x), bound);
    } else if (name.substr(name.size() - 6) == "weight") {
      for (float x : v) ASSERT_EQ(x, 1.0f);  // BatchNorm weight
    } else {
      for (float x : v) ASSERT_EQ(x, 0.0f);  // BatchNorm bias
    }
  }
}

TEST(ResNet18, InitIsReproducibleAndZeroInitResidual) {
  Generator a(7), b(7), c(8);
  nn::ResNet18 m1(10, nn::Stem::Cifar, &a), m2(10, nn::Stem::Cifar, &b), m3(10, nn::Stem::Cifar, &c);
  const auto p1 = m1.named_parameters(), p2 = m2.named_parameters(), p3 = m3.named_parameters();
  EXPECT_TRUE(testing::bit_equal(p1[0].second, p2[0].second));
  EXPECT_TRUE(testing::bit_equal(p1.back().second, p2.back().second));
  EXPECT_FALSE(testing::all_close(p1[0].second, p3[0].second, 0, 0));

  Generator d(7);
  nn::ResNet18 zero(10, nn::Stem::Cifar, &d, /*zero_init_residual=*/true);
  int zeroed = 0;
  for (const auto& [name, t] : zero.named_parameters()) {
    const bool last_bn = name.find(".bn2.weight") != std::string::npos;
    if (last_bn) {
      ++zeroed;
      for (float x : t.to_vector<float>()) ASSERT_EQ(x, 0.0f) << name;
    } else if (name.find("bn1.weight") != std::string::npos) {
      for (float x : t.to_vector<float>()) ASSERT_EQ(x, 1.0f) << name;
    }
  }
  EXPECT_EQ(zeroed, 8);
}

TEST(ResNet18, ForwardBackwardBothStemsFloat32) {
  for (nn::Stem stem : {nn::Stem::ImageNet, nn::Stem::Cifar}) {
    SCOPED_TRACE(nn::stem_name(stem));
    Generator gen(3);
    nn::ResNet18 model(10, stem, &gen);
    Tensor x = testing::uniform_tensor({2, 3, 32, 32}, 9, -2, 2);
    Tensor logits = model(x);
    ASSERT_EQ(logits.sizes(), (Shape{2, 10}));
    Tensor loss = cross_entropy(logits, from_vector<int64_t>({3, 7}, {2}));
    EXPECT_TRUE(std::isfinite(loss.item()));
    loss.backward();
    for (const auto& [name, p] : model.named_parameters()) {
      ASSERT_TRUE(p.grad().defined()) << name;
      EXPECT_EQ(p.grad().sizes(), p.sizes()) << name;
      for (float g : p.grad().to_vector<float>()) ASSERT_TRUE(std::isfinite(g)) << name;
    }
  }
}

TEST(BasicBlock, GradcheckWholeBlock) {
  // Downsampling block (stride 2, 2 -> 3 channels) in training mode: conv, BN, ReLU, conv,
  // BN, the 1x1-conv + BN shortcut, the add and the final ReLU, w.r.t. input and all weights.
  Generator gen(11);
  nn::BasicBlock block(2, 3, 2, &gen);
  block.to(DType::Float64);
  V inputs = {testing::random_leaf({2, 2, 6, 6}, 12)};
  for (auto& [name, p] : block.named_parameters()) {
    NoGradGuard no_grad;
    p.copy_(testing::uniform_tensor(p.sizes(), 13 + inputs.size(), 0.3, 1.2, DType::Float64));
    inputs.push_back(p);
  }
  EXPECT_TRUE(testing::gradcheck([&](const V& v) { return block(v[0]); }, inputs));
}

}  // namespace
}  // namespace ember
