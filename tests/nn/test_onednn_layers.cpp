// The oneDNN CPU layers against the reference CPU layers (Note [CPU layer backends] in
// nn/layer_backend.h): every layer's output and every gradient on fresh random inputs of
// awkward shapes (odd sizes, stride 2, 1x1, padding 0 and 3, batch 1, channel counts that are
// not multiples of 8 or 16, NCHW and NHWC inputs), a whole ResNet-18 on both stems, the same
// bits from the same seed twice, fallbacks (float64, bfloat16) with their one-time note,
// primitives cached per shape and thread count, oneDNN errors as ember::Error. Each float32
// comparison also checks that oneDNN ran the call (no fallback), so it cannot pass by
// comparing the reference with itself. Skipped, saying so, in a build without oneDNN.
//
// Tolerances, as |got - want| <= atol * max(1, max|want|) + rtol * |want|:
//  - convolutions: both sides sum the same K = Cin*kh*kw products (up to ~900 here) in
//    float32, in different orders and blockings. The rounding error of such a sum is about
//    u * sqrt(K) * (the magnitude of the partial sums) in practice (u = 6e-8): under 1e-6 of
//    the output's largest value. atol 1e-5 leaves 10x margin; rtol 1e-5 covers the large
//    elements. Weight gradients sum N*Ho*Wo products more: the same bound holds.
//  - batch norm: the reference accumulates its statistics in double, these layers (ember's CPU
//    kernels) in float32 over each H*W plane and in double across planes (M = N*H*W <= 2,000
//    values here); the normalised values carry at most ~u * sqrt(M) relative error, and the
//    backward's sums over M products as much again: atol 2e-5, rtol 2e-5. A wrong eps (1e-3
//    in one case) or variance would be off by more than 1e-4.
//  - bfloat16: each output is rounded once to bfloat16 from float32 results that agree to the
//    tolerances above; a value near a rounding boundary may round the other way: one bfloat16
//    step, 2^-7 relative (2^-8 of the value's binade).
//  - the whole ResNet-18: twenty layers compound the per-layer differences and batch norm
//    divides by small batch deviations: logits to 1e-3 of the largest value, gradients to
//    5e-3 of their largest value (measured: 1.5e-3 at most, in a handful of elements of the
//    stem's filter gradient) and pointing the same way (cosine similarity > 0.99999). Only
//    with enough values per batch-norm channel (see the test): over 2 values its backward
//    amplifies any float32 rounding by percents.
#include <gtest/gtest.h>
#include <omp.h>

#include <functional>
#include <string>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/generator.h"
#include "core/ops.h"
#include "nn/batch_norm.h"
#include "nn/conv2d.h"
#include "nn/cpu/batch_norm_kernels_cpu.h"
#include "nn/layer_backend.h"
#include "nn/resnet.h"
#include "tests/nn/nn_test_util.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using nn::CpuLayers;
using testing::CpuLayersScope;
using testing::uniform_tensor;
using V = std::vector<Tensor>;
using Op = std::function<Tensor(const V&)>;

::testing::AssertionResult close(const Tensor& got, const Tensor& want, double atol, double rtol) {
  const double scale = want.numel() > 0 ? std::max(1.0, max(abs(want.detach().to(DType::Float64))).item()) : 1.0;
  return testing::all_close(got, want, atol * scale, rtol);
}

// The output of op and the gradients of sum(out * w) for every floating input (w uniform in
// [0.5, 1.5) from w_seed), computed under `layers`. With expect_onednn, also that oneDNN ran
// every call (no fallback).
V outputs_and_gradients(CpuLayers layers, const Op& op, const V& inputs, uint64_t w_seed, bool expect_onednn) {
  CpuLayersScope scope(layers);
  V leaves;
  for (const Tensor& t : inputs) leaves.push_back(t.clone().set_requires_grad(is_floating(t.dtype())));
  const int64_t fallbacks = nn::onednn_fallback_calls();
  Tensor out = op(leaves);
  Generator gen(w_seed);
  Tensor w = empty(out.sizes(), DType::Float32);
  w = uniform_(w, 0.5, 1.5, &gen).to(out.dtype());
  sum(out * w).backward();
  if (expect_onednn) {
    EXPECT_EQ(nn::onednn_fallback_calls(), fallbacks) << "a call went to the reference layers";
  }
  V results = {out.detach()};
  for (const Tensor& leaf : leaves)
    if (leaf.requires_grad()) results.push_back(leaf.grad());
  return results;
}

class OnednnLayers : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!nn::onednn_layers_built())
      GTEST_SKIP() << "this build has no oneDNN CPU layers (configured without libdnnl-dev)";
  }

  // oneDNN's outputs and gradients against the reference's.
  void expect_matches_reference(const Op& op, const V& inputs, double atol, double rtol, bool expect_onednn = true) {
    const uint64_t w_seed = seed_++;
    const V want = outputs_and_gradients(CpuLayers::Reference, op, inputs, w_seed, false);
    const V got = outputs_and_gradients(CpuLayers::OneDnn, op, inputs, w_seed, expect_onednn);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_TRUE(close(got[i], want[i], atol, rtol))
          << (i == 0 ? "output" : "gradient of input " + std::to_string(i - 1));
  }

  Tensor random(const Shape& shape, double low = -1, double high = 1) {
    return uniform_tensor(shape, seed_++, low, high);
  }

  uint64_t seed_ = 18000;
};

struct ConvCase {
  Shape input, weight;
  nn::Size2 stride, padding;
  bool bias, nhwc;
};

// Odd sizes, stride 2 (with and without an exact fit), 1x1 (the downsample), 7x7 padding 3
// (the ImageNet stem), padding 0, batch 1, a one-pixel row, channels 3, 5, 13, 17, 24 (not
// multiples of oneDNN's blocks of 8), bias, NHWC inputs.
const std::vector<ConvCase> kConvCases = {
    {{2, 3, 9, 7}, {5, 3, 3, 3}, 1, 1, true, false},
    {{1, 13, 11, 11}, {17, 13, 3, 3}, 2, 1, false, false},
    {{3, 5, 10, 10}, {24, 5, 1, 1}, 2, 0, false, false},
    {{2, 3, 17, 15}, {13, 3, 7, 7}, 2, 3, false, false},
    {{1, 17, 6, 8}, {5, 17, 3, 3}, 1, 0, true, false},
    {{2, 6, 1, 9}, {3, 6, 3, 3}, 1, 1, true, false},
    {{4, 16, 8, 8}, {16, 16, 3, 3}, 1, 1, false, true},
    {{3, 13, 7, 5}, {6, 13, 1, 1}, {2, 1}, {0, 0}, true, true},
    {{2, 8, 9, 9}, {8, 8, 2, 3}, {1, 2}, {1, 0}, false, false},
};

TEST_F(OnednnLayers, ConvolutionForwardAndEveryGradient) {
  for (const ConvCase& c : kConvCases) {
    SCOPED_TRACE("input " + shape_str(c.input) + " weight " + shape_str(c.weight) + (c.nhwc ? " NHWC" : " NCHW"));
    V inputs = {random(c.input), random(c.weight)};
    if (c.bias) inputs.push_back(random({c.weight[0]}));
    const Op op = [&](const V& v) {
      const Tensor x = c.nhwc ? v[0].to_channels_last() : v[0];
      return nn::conv2d(x, v[1], v.size() > 2 ? v[2] : Tensor(), {c.stride, c.padding});
    };
    expect_matches_reference(op, inputs, 1e-5, 1e-5);
  }
}

// Note [small-map backward weights]: convolutions with output maps of at most 4 pixels take
// their weight gradient from one matmul per tap: a 3x3 kernel on a 1x1 map (one live tap),
// stride 2 from 2x2 (four), no padding (all nine), a 1x1 kernel, 2x2 maps with padding (taps
// with 1, 2 and 4 live pixels), ResNet's stride-2 3x3 and 1x1 (stride over kernel) from 4x4,
// a 3x2 kernel with stride (2, 1), a 1x3 map, a 5x5 kernel with padding 2 on 1x1, batch 1,
// NHWC, and bfloat16 - each against the reference (tolerances as for every convolution: the
// matmuls sum the same N * H * W products per weight, in another order), and in float32 each
// taken by the matmuls exactly once. A bias, or a 7x7 kernel (49 taps), keeps oneDNN's pass.
TEST_F(OnednnLayers, SmallMapConvolutionWeightsAreOneMatmulPerTap) {
  struct SmallMapCase {
    ConvCase conv;
    bool matmuls;  // whether the small-map products take the weight gradient
  };
  const std::vector<SmallMapCase> cases = {
      {{{3, 5, 1, 1}, {4, 5, 3, 3}, 1, 1, false, false}, true},
      {{{2, 6, 2, 2}, {7, 6, 3, 3}, 2, 1, false, false}, true},
      {{{4, 3, 3, 3}, {5, 3, 3, 3}, 1, 0, false, false}, true},
      {{{5, 17, 1, 1}, {13, 17, 1, 1}, 1, 0, false, false}, true},
      {{{3, 9, 2, 2}, {6, 9, 3, 3}, 1, 1, false, false}, true},
      {{{2, 8, 4, 4}, {16, 8, 3, 3}, 2, 1, false, false}, true},
      {{{2, 8, 4, 4}, {16, 8, 1, 1}, 2, 0, false, false}, true},
      {{{2, 5, 3, 3}, {4, 5, 3, 2}, {2, 1}, {1, 0}, false, false}, true},
      {{{2, 4, 1, 5}, {3, 4, 1, 3}, 1, 0, false, false}, true},
      {{{2, 3, 1, 1}, {4, 3, 5, 5}, 1, 2, false, false}, false},  // 25 taps
      {{{1, 6, 1, 1}, {5, 6, 3, 3}, 1, 1, false, false}, true},
      {{{2, 16, 1, 1}, {16, 16, 3, 3}, 1, 1, false, true}, true},
      {{{2, 4, 1, 1}, {3, 4, 3, 3}, 1, 1, true, false}, false},
      {{{2, 3, 7, 7}, {4, 3, 7, 7}, 1, 0, false, false}, false}};
  for (const SmallMapCase& sm : cases)
    for (DType dtype : {DType::Float32, DType::BFloat16}) {
      const ConvCase& c = sm.conv;
      SCOPED_TRACE("input " + shape_str(c.input) + " weight " + shape_str(c.weight) + " " + dtype_name(dtype) +
                   (c.bias ? " bias" : ""));
      V inputs = {random(c.input), random(c.weight)};
      if (c.bias) inputs.push_back(random({c.weight[0]}));
      const Op op = [&](const V& v) {
        const Tensor x = c.nhwc ? v[0].to_channels_last() : v[0];
        const Tensor b = v.size() > 2 ? v[2].to(dtype) : Tensor();
        return nn::conv2d(x.to(dtype), v[1].to(dtype), b, {c.stride, c.padding}).to(DType::Float32);
      };
      const int64_t calls = nn::onednn_small_map_weight_calls();
      const double tol = dtype == DType::BFloat16 ? 1.0 / 128 : 1e-5;
      expect_matches_reference(op, inputs, tol, tol, dtype == DType::Float32);
      if (dtype == DType::Float32) {  // bfloat16 without AVX-512 widens first: a float32 call, or none
        EXPECT_EQ(nn::onednn_small_map_weight_calls(), calls + (sm.matmuls ? 1 : 0));
      }
    }
}

struct BnCase {
  Shape input;
  double eps;
  double spread;  // inputs in [-spread, spread): small spreads make var comparable to eps
  bool nhwc;
};

const std::vector<BnCase> kBnCases = {
    {{2, 3, 5, 7}, 1e-5, 2.0, false},   {{1, 17, 4, 4}, 1e-5, 1.0, false}, {{5, 1, 1, 1}, 1e-5, 1.0, false},
    {{3, 13, 9, 1}, 1e-3, 0.01, false}, {{4, 24, 6, 6}, 1e-5, 3.0, true},  {{7, 8, 16, 18}, 1e-5, 1.0, false},
};

TEST_F(OnednnLayers, BatchNormTrainingForwardAndEveryGradient) {
  for (const BnCase& c : kBnCases) {
    SCOPED_TRACE("input " + shape_str(c.input) + " eps " + std::to_string(c.eps));
    const int64_t ch = c.input[1];
    const V inputs = {random(c.input, -c.spread, c.spread), random({ch}, 0.5, 1.5), random({ch})};
    const Op op = [&](const V& v) {
      const Tensor x = c.nhwc ? v[0].to_channels_last() : v[0];
      return nn::batch_norm(x, v[1], v[2], Tensor(), Tensor(), true, 0.1, c.eps);
    };
    expect_matches_reference(op, inputs, 2e-5, 2e-5);
  }
}

TEST_F(OnednnLayers, BatchNormRunningStatisticsAndEvaluation) {
  const Shape shape = {3, 11, 5, 6};
  const Tensor x = random(shape, -1, 2), w = random({11}, 0.5, 1.5), b = random({11});
  const Tensor rm0 = random({11}, -0.5, 0.5), rv0 = random({11}, 0.5, 2);
  V running[2], eval_out;
  for (CpuLayers layers : {CpuLayers::Reference, CpuLayers::OneDnn}) {
    CpuLayersScope scope(layers);
    const int64_t fallbacks = nn::onednn_fallback_calls();
    Tensor rm = rm0.clone(), rv = rv0.clone();
    const Tensor train = nn::batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5);
    eval_out.push_back(nn::batch_norm(x, w, b, rm, rv, false, 0.1, 1e-5));
    running[layers == CpuLayers::OneDnn] = {rm, rv};
    if (layers == CpuLayers::OneDnn) {
      EXPECT_EQ(nn::onednn_fallback_calls(), fallbacks);
    }
  }
  EXPECT_TRUE(close(running[1][0], running[0][0], 2e-5, 2e-5)) << "running_mean";
  EXPECT_TRUE(close(running[1][1], running[0][1], 2e-5, 2e-5)) << "running_var (unbiased)";
  EXPECT_TRUE(close(eval_out[1], eval_out[0], 2e-5, 2e-5)) << "evaluation output";
}

// A whole ResNet-18 forward and backward, both stems: logits and every parameter gradient.
TEST_F(OnednnLayers, ResNet18BothStems) {
  for (nn::Stem stem : {nn::Stem::Cifar, nn::Stem::ImageNet}) {
    SCOPED_TRACE(nn::stem_name(stem));
    // Batch 4 and, for the ImageNet stem (32x downsampling), 96x96 images: layer4's batch
    // norms then see N*H*W = 36 values or more. With batch 2 at 32x32 they see 2, where batch
    // norm's backward is ill-conditioned (1 - xhat^2 cancels) and float32 rounding anywhere
    // upstream moves a gradient by percents in both implementations alike.
    const int64_t side = stem == nn::Stem::ImageNet ? 96 : 32;
    const Tensor images = random({4, 3, side, side}, -2, 2);
    const Tensor labels = from_vector<int64_t>({3, 7, 0, 9}, {4});
    V logits, grads[2];
    for (CpuLayers layers : {CpuLayers::Reference, CpuLayers::OneDnn}) {
      CpuLayersScope scope(layers);
      Generator gen(5);
      nn::ResNet18 model(10, stem, &gen);
      const int64_t fallbacks = nn::onednn_fallback_calls();
      const Tensor out = model(images);
      cross_entropy(out, labels).backward();
      if (layers == CpuLayers::OneDnn) {
      EXPECT_EQ(nn::onednn_fallback_calls(), fallbacks);
    }
      logits.push_back(out.detach());
      for (auto& [name, p] : model.named_parameters()) grads[layers == CpuLayers::OneDnn].push_back(p.grad());
    }
    EXPECT_TRUE(close(logits[1], logits[0], 1e-3, 1e-3)) << "logits";
    for (size_t i = 0; i < grads[0].size(); ++i) {
      EXPECT_TRUE(close(grads[1][i], grads[0][i], 5e-3, 1e-3)) << "gradient " << i;
      EXPECT_GT(testing::cosine_similarity(grads[1][i], grads[0][i]), 0.99999) << "gradient " << i;
    }
  }
}

// Same seed, same bits: two runs of forward, backward and an SGD-like update on oneDNN.
TEST_F(OnednnLayers, SameSeedSameBitsTwice) {
  testing::ThreadCountScope threads(2);
  CpuLayersScope scope(CpuLayers::OneDnn);
  auto run = [] {
    Generator gen(11);
    nn::ResNet18 model(10, nn::Stem::Cifar, &gen);
    const Tensor images = randn({3, 3, 16, 16}, TensorOptions(), &gen);
    const Tensor labels = from_vector<int64_t>({1, 4, 9}, {3});
    V state;
    for (int step = 0; step < 2; ++step) {
      cross_entropy(model(images), labels).backward();
      NoGradGuard no_grad;
      for (auto& [name, p] : model.named_parameters()) {
        Tensor(p).add_(p.grad(), -0.1);
        Tensor(p.grad()).zero_();
      }
    }
    for (auto& [name, p] : model.named_parameters()) state.push_back(p.detach().clone());
    return state;
  };
  const V first = run(), second = run();
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_TRUE(testing::bit_equal(second[i], first[i])) << "parameter " << i;
}

TEST_F(OnednnLayers, Float64GoesToTheReferenceLayersWithOneNote) {
  CpuLayersScope scope(CpuLayers::OneDnn);
  const Tensor x = uniform_tensor({2, 3, 6, 6}, 1, -1, 1, DType::Float64);
  const Tensor w = uniform_tensor({4, 3, 3, 3}, 2, -1, 1, DType::Float64);
  Tensor want;
  {
    CpuLayersScope reference(CpuLayers::Reference);
    want = nn::conv2d(x, w, Tensor(), {1, 1});
  }
  const int64_t fallbacks = nn::onednn_fallback_calls();
  ::testing::internal::CaptureStderr();
  const Tensor first = nn::conv2d(x, w, Tensor(), {1, 1});
  const Tensor second = nn::conv2d(x, w, Tensor(), {2, 0});
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(nn::onednn_fallback_calls(), fallbacks + 2);
  EXPECT_TRUE(testing::bit_equal(first, want));  // the reference's own code
  // The note comes once per process (ctest runs each test in its own).
  const std::string note = "oneDNN has no float64 convolution";
  const size_t at = err.find(note);
  EXPECT_NE(at, std::string::npos) << err;
  EXPECT_EQ(err.find(note, at + 1), std::string::npos) << err;
}

// bfloat16 (mixed precision): oneDNN's bfloat16 kernels where the CPU has them, else oneDNN in
// float32 on widened copies; either way within one bfloat16 rounding of the reference.
TEST_F(OnednnLayers, Bfloat16ConvolutionAndBatchNorm) {
  const Tensor x = random({2, 8, 9, 9}), w = random({16, 8, 3, 3});
  const Tensor bn_w = random({16}, 0.5, 1.5), bn_b = random({16});
  const Op op = [&](const V& v) {
    const Tensor y = nn::conv2d(v[0].to(DType::BFloat16), v[1].to(DType::BFloat16), Tensor(), {1, 1});
    return nn::batch_norm(y, v[2], v[3], Tensor(), Tensor(), true).to(DType::Float32);
  };
  expect_matches_reference(op, {x, w, bn_w, bn_b}, 1.0 / 128, 1.0 / 128, /*expect_onednn=*/false);
}

// Batch norm on these layers is ember's CPU kernels (Note [CPU batch norm] in
// nn/onednn/onednn_layer_backend.cpp), in float32 and bfloat16, training and eval: no fallback
// counted or noted, no oneDNN primitive made, and the bits of the kernels called directly.
TEST_F(OnednnLayers, BatchNormRunsEmbersCpuKernels) {
  CpuLayersScope scope(CpuLayers::OneDnn);
  NoGradGuard no_grad;
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor x = random({3, 5, 7, 6}).to(dtype), w = random({5}, 0.5, 1.5), b = random({5});
    Tensor running_mean = zeros({5}), running_var = ones({5});
    const size_t plans = nn::onednn_plan_count();
    const int64_t fallbacks = nn::onednn_fallback_calls();
    ::testing::internal::CaptureStderr();
    const Tensor train = nn::batch_norm(x, w, b, running_mean, running_var, true, 0.1, 1e-5);
    const Tensor eval = nn::batch_norm(x, w, b, running_mean, running_var, false, 0.1, 1e-5);
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(err.find("batch norm"), std::string::npos) << err;
    EXPECT_EQ(nn::onednn_plan_count(), plans) << "batch norm made a oneDNN primitive";
    EXPECT_EQ(nn::onednn_fallback_calls(), fallbacks);

    nn::BatchNormTrainArgs a;
    a.out = empty(x.sizes(), x.options());
    a.save_mean = empty({5});
    a.save_invstd = empty({5});
    a.input = x;
    a.weight = w;
    a.bias = b;
    a.running_mean = zeros({5});
    a.running_var = ones({5});
    nn::cpu::batch_norm_kernels_forward_train(a);
    EXPECT_TRUE(testing::bit_equal(train, a.out)) << "training";
    EXPECT_TRUE(testing::bit_equal(running_var, a.running_var)) << "running variance";
    const Tensor direct_eval = empty(x.sizes(), x.options());
    nn::cpu::batch_norm_kernels_forward_eval(direct_eval, x, w, b, a.running_mean, a.running_var, 1e-5);
    EXPECT_TRUE(testing::bit_equal(eval, direct_eval)) << "eval";
  }
}

TEST_F(OnednnLayers, NativeBfloat16Convolution) {
  CpuLayersScope scope(CpuLayers::OneDnn);
  const int64_t fallbacks = nn::onednn_fallback_calls();
  ::testing::internal::CaptureStderr();
  nn::conv2d(random({1, 8, 5, 5}).to(DType::BFloat16), random({8, 8, 3, 3}).to(DType::BFloat16), Tensor(), {1, 1});
  const std::string err = ::testing::internal::GetCapturedStderr();
  if (nn::onednn_fallback_calls() != fallbacks)
    GTEST_SKIP() << "oneDNN has no bfloat16 convolution on this CPU (oneDNN 2.6 needs AVX-512); bfloat16 runs "
                    "through float32 there (Bfloat16ConvolutionAndBatchNorm checks that path)";
  EXPECT_EQ(err.find("bfloat16"), std::string::npos) << err;
}

TEST_F(OnednnLayers, PrimitivesAreCachedPerShapeAndThreadCount) {
  CpuLayersScope scope(CpuLayers::OneDnn);
  const Tensor x = random({2, 5, 7, 7}), w = random({3, 5, 3, 3});
  auto conv = [&] { return nn::conv2d(x, w, Tensor(), {1, 1}); };
  {
    testing::ThreadCountScope threads(2);
    conv();
    const size_t plans = nn::onednn_plan_count();
    conv();
    EXPECT_EQ(nn::onednn_plan_count(), plans) << "the same shape made a new primitive";
  }
  {
    testing::ThreadCountScope threads(1);
    const size_t plans = nn::onednn_plan_count();
    const Tensor one_thread = conv();
    EXPECT_EQ(nn::onednn_plan_count(), plans + 1) << "a plan made for 2 threads ran on 1";
    testing::ThreadCountScope two(2);
    EXPECT_TRUE(close(one_thread, conv(), 1e-5, 1e-5));
  }
}

TEST_F(OnednnLayers, RunsOnEmberThreadCountAndRestoresOpenMp) {
  CpuLayersScope scope(CpuLayers::OneDnn);
  testing::ThreadCountScope threads(1);
  omp_set_num_threads(3);  // as if another library had changed this thread's OpenMP setting
  nn::conv2d(random({2, 4, 6, 6}), random({4, 4, 3, 3}), Tensor(), {1, 1});
  EXPECT_EQ(omp_get_max_threads(), 3) << "the layer left its team size behind";
  omp_set_num_threads(num_threads());
}

TEST_F(OnednnLayers, OnednnErrorsNameThePrimitiveAndShape) {
  // A geometry no op would pass (the ops validate first): oneDNN rejects it, ember says so.
  nn::Conv2dGeometry g;
  g.batch = 1;
  g.in_channels = 2;
  g.in_h = g.in_w = 3;
  g.out_channels = 2;
  g.kernel_h = g.kernel_w = 5;  // larger than the unpadded input: a negative output size
  const Tensor in = zeros({1, 2, 3, 3}), weight = zeros({2, 2, 5, 5}), out = zeros({1, 2, 1, 1});
  try {
    nn::onednn_layer_backend().conv2d_forward(g, out, in, weight, Tensor());
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("oneDNN convolution"), std::string::npos) << message;
    EXPECT_NE(message.find("input [1, 2, 3, 3], weight [2, 2, 5, 5]"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace ember
