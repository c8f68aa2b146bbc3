// channels_last on the CPU: the layers convert NHWC inputs to NCHW (Note [channels_last] in
// core/ops/view_ops.cpp), so an NHWC model computes exactly what the NCHW one does, bit for
// bit, forward and backward, in float32 and bfloat16.
#include <gtest/gtest.h>

#include "core/ops.h"
#include "nn/functional.h"
#include "nn/resnet.h"
#include "tests/nn/nn_test_util.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

Tensor random(const Shape& shape, uint64_t seed, double low = -2, double high = 2) {
  return testing::uniform_tensor(shape, seed, low, high);
}

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
