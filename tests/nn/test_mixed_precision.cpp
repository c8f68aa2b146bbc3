// Mixed precision on the CPU (nn/cpu/widening_layer_backend.h): a bfloat16 layer is the
// float32 layer on the widened inputs, rounded once - bit for bit; gradients come back in the
// parameters' float32; ResNet-18 in bfloat16 trains like float32 within bfloat16's precision.
//
// ResNet tolerances: bfloat16 keeps 8 significant bits (relative rounding 2^-9 per value),
// and ~20 layers compound it, so logits are compared at atol 0.1 (they are O(1)) and each
// parameter's gradient direction by cosine similarity > 0.85 against float32. PyTorch's own
// bfloat16 autocast gives 0.906 at worst on this setup (torchvision ResNet-18, CIFAR stem,
// batch 4 of 16x16, torch 2.15 on the CPU); a wrong sign, layer or scale gives ~0 or < 0.
#include <cmath>

#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/batch_norm.h"
#include "nn/conv2d.h"
#include "nn/functional.h"
#include "nn/layer_backend.h"
#include "nn/activation.h"
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
    EXPECT_GT(testing::cosine_similarity(b[i].second.grad(), a[i].second.grad()), 0.85);
  }
}

}  // namespace
}  // namespace ember

// channels_last on the CPU: the layers convert NHWC inputs to NCHW (Note [channels_last]), so
// an NHWC model computes exactly what the NCHW one does, bit for bit, forward and backward.
namespace ember {
namespace {

TEST(ChannelsLastLayers, ConvBatchNormPoolGiveTheNchwResults) {
  const Tensor x = random({2, 4, 7, 9}, 31), w = random({5, 4, 3, 3}, 32);
  const Tensor xl = x.to_channels_last();
  EXPECT_BIT_EQUAL(nn::conv2d(xl, w, Tensor(), nn::Conv2dOptions{1, 1}), nn::conv2d(x, w, Tensor(), nn::Conv2dOptions{1, 1}));
  const Tensor gamma = random({4}, 33, 0.5, 1.5), beta = random({4}, 34);
  EXPECT_BIT_EQUAL(nn::batch_norm(xl, gamma, beta, Tensor(), Tensor(), true),
                   nn::batch_norm(x, gamma, beta, Tensor(), Tensor(), true));
  EXPECT_BIT_EQUAL(nn::max_pool2d(xl, nn::MaxPool2dOptions{3, 2, 1}), nn::max_pool2d(x, nn::MaxPool2dOptions{3, 2, 1}));
}

TEST(ChannelsLastLayers, ResNet18ChannelsLastEqualsNchw) {
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    SCOPED_TRACE(dtype_name(dtype));
    Generator g1(5), g2(5);
    nn::ResNet18 nchw(10, nn::Stem::ImageNet, &g1), nhwc(10, nn::Stem::ImageNet, &g2);
    nchw.set_compute_dtype(dtype);
    nhwc.set_compute_dtype(dtype);
    nhwc.set_channels_last(true);
    const Tensor images = random({2, 3, 32, 32}, 40);
    const Tensor labels = from_vector(std::vector<int64_t>{3, 8}, {2});
    const Tensor want = nchw(images), got = nhwc(images);
    EXPECT_BIT_EQUAL(got, want);
    cross_entropy(want, labels).backward();
    cross_entropy(got, labels).backward();
    const auto a = nchw.named_parameters(), b = nhwc.named_parameters();
    for (size_t i = 0; i < a.size(); ++i) EXPECT_BIT_EQUAL(b[i].second.grad(), a[i].second.grad()) << a[i].first;
  }
}

}  // namespace
}  // namespace ember

// BatchNorm2d::forward_relu on the CPU: no backend fuses there, so it is the two modules
// (counting the batch once); the fused CUDA pass is checked against them in
// tests/nn/test_nn_cuda.cpp (FusedBatchNormRelu).
namespace ember {
namespace {

TEST(BatchNormRelu, CpuRunsTheTwoModulesAndCountsTheBatchOnce) {
  const Tensor x = random({2, 4, 3, 3}, 54).to(DType::BFloat16);
  EXPECT_FALSE(nn::layer_backend_for(Device::cpu()).fuses_batch_norm_relu(x));
  nn::BatchNorm2d bn(4), reference(4);
  nn::ReLU relu;
  EXPECT_BIT_EQUAL(bn.forward_relu(x, relu), relu(reference(x)));
  EXPECT_EQ(bn.num_batches_tracked().item(), 1.0);
}

}  // namespace
}  // namespace ember
