// Mixed precision on the CPU (nn/cpu/widening_layer_backend.h): a bfloat16 layer is the
// float32 layer on the widened inputs, rounded once - bit for bit; gradients come back in the
// parameters' float32; ResNet-18 in bfloat16 trains like float32 within bfloat16's precision.
//
// ResNet tolerances: bfloat16 keeps 8 significant bits (relative rounding 2^-9 per value),
// and ~20 layers compound it, so logits are compared at atol 0.1 (they are O(1)) and each
// parameter's gradient against float32 by direction and by length: cosine similarity >= 0.85
// and norm ratio |g_bf16| / |g_fp32| within 1 +- 0.25. Both are needed: a wrong sign or a
// gradient of the wrong layer gives a cosine near 0 or below, but a gradient scaled by 2 (a
// doubled path, a missing 1/N) has cosine 1 and only the norm ratio catches it. The bounds
// come from PyTorch's own bfloat16 autocast on the same setup (torchvision ResNet-18, CIFAR
// stem, batch 4 of 3x16x16, torch 2.15 on the CPU), measured by
// scripts/measure_autocast_gradients.py over 10 seeds:
//   worst cosine 0.8870 (layer1.1.bn2.bias, seed 0); norm ratio from 0.9173
//   (layer1.1.bn1.weight, seed 9) to 1.1903 (layer1.1.bn2.bias, seed 8)
// and ember here gives worst cosine 0.903 and norm ratios 0.911 to 1.044.
#include <cmath>

#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/batch_norm.h"
#include "nn/conv2d.h"
#include "nn/functional.h"
#include "nn/resnet.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using testing::bit_equal;

Tensor random(const Shape& shape, uint64_t seed, double low = -2, double high = 2) {
  Generator g(seed);
  Tensor t = empty(shape);
  return uniform_(t, low, high, &g);
}

Tensor bf16(const Tensor& t) { return t.to(DType::BFloat16); }
Tensor f32(const Tensor& t) { return t.to(DType::Float32); }

TEST(MixedPrecision, ConvModuleRoundsItsWeightsAndReturnsFloat32Gradients) {
  Generator gen(1);
  nn::Conv2dConfig config;
  config.in_channels = 3;
  config.out_channels = 5;
  config.kernel_size = 3;
  config.padding = 1;
  config.stride = 2;
  nn::Conv2d conv(config, &gen);
  const Tensor x = bf16(random({2, 3, 7, 9}, 2)).set_requires_grad(true);
  const Tensor y = conv(x);
  EXPECT_EQ(y.dtype(), DType::BFloat16);
  {
    NoGradGuard no_grad;
    const Tensor want = nn::conv2d(f32(x), f32(bf16(conv.weight())), f32(bf16(conv.bias())),
                                   nn::Conv2dOptions{2, 1});
    EXPECT_TRUE(bit_equal(y.detach(), bf16(want)));
  }
  sum(y).backward();
  ASSERT_TRUE(conv.weight().grad().defined() && x.grad().defined());
  EXPECT_EQ(conv.weight().grad().dtype(), DType::Float32);
  EXPECT_EQ(conv.bias().grad().dtype(), DType::Float32);
  EXPECT_EQ(x.grad().dtype(), DType::BFloat16);
}

TEST(MixedPrecision, BatchNormTakesFloat32ParametersAndStatistics) {
  nn::BatchNorm2d bn(4);
  const Tensor xf = random({3, 4, 5, 5}, 3);
  const Tensor x = bf16(xf).set_requires_grad(true);
  nn::BatchNorm2d reference(4);
  const Tensor y = bn(x);
  EXPECT_EQ(y.dtype(), DType::BFloat16);
  const Tensor x_wide = f32(x.detach()).set_requires_grad(true);
  const Tensor want = reference(x_wide);
  EXPECT_TRUE(bit_equal(y.detach(), bf16(want.detach())));
  EXPECT_TRUE(bit_equal(bn.running_mean(), reference.running_mean()));  // float32, updated alike
  EXPECT_TRUE(bit_equal(bn.running_var(), reference.running_var()));
  const Tensor dy = random({3, 4, 5, 5}, 4);
  (y * bf16(dy)).sum().backward();
  (want * f32(bf16(dy))).sum().backward();
  EXPECT_EQ(bn.weight().grad().dtype(), DType::Float32);
  EXPECT_EQ(x.grad().dtype(), DType::BFloat16);
  // The bfloat16 layer sees dy rounded to bfloat16 and returns dx rounded: dw, a sum of 75
  // products of O(1) values each off by up to 2^-9 relative, may be off by ~0.05 absolute;
  // dx by one or two bfloat16 steps of its O(1) values.
  EXPECT_TRUE(testing::all_close(bn.weight().grad(), reference.weight().grad(), 0.05, 0.01));
  EXPECT_TRUE(testing::all_close(f32(x.grad()), x_wide.grad(), 0.02, 0.01));
  bn.eval();
  EXPECT_EQ(bn(x.detach()).dtype(), DType::BFloat16);
  EXPECT_EQ(bn(x).dtype(), DType::BFloat16);  // evaluation with gradients: the composite path
}

TEST(MixedPrecision, MaxPoolKeepsBfloat16) {
  const Tensor x = bf16(random({2, 3, 6, 7}, 5)).set_requires_grad(true);
  const Tensor y = nn::max_pool2d(x, nn::MaxPool2dOptions{3, 2, 1});
  EXPECT_EQ(y.dtype(), DType::BFloat16);
  EXPECT_TRUE(bit_equal(y.detach(), bf16(nn::max_pool2d(f32(x.detach()), nn::MaxPool2dOptions{3, 2, 1}))));
  sum(y).backward();
  EXPECT_EQ(x.grad().dtype(), DType::BFloat16);
}


TEST(MixedPrecision, ResNet18InBfloat16FollowsFloat32) {
  Generator g1(9), g2(9);
  nn::ResNet18 full(10, nn::Stem::Cifar, &g1), mixed(10, nn::Stem::Cifar, &g2);
  mixed.set_compute_dtype(DType::BFloat16);
  EXPECT_THROW(mixed.set_compute_dtype(DType::Int64), Error);
  const Tensor images = random({4, 3, 16, 16}, 10);
  const Tensor labels = from_vector(std::vector<int64_t>{1, 7, 3, 3}, {4});
  const Tensor want = full(images), got = mixed(images);
  EXPECT_EQ(got.dtype(), DType::Float32);
  EXPECT_TRUE(testing::all_close(got.detach(), want.detach(), 0.1, 0.05));
  cross_entropy(want, labels).backward();
  cross_entropy(got, labels).backward();
  const auto a = full.named_parameters(), b = mixed.named_parameters();
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(a[i].first);
    ASSERT_TRUE(b[i].second.grad().defined());
    EXPECT_EQ(b[i].second.grad().dtype(), DType::Float32);
    EXPECT_TRUE(testing::gradients_agree(b[i].second.grad(), a[i].second.grad(), 0.85, 0.25));
  }
}

}  // namespace
}  // namespace ember
