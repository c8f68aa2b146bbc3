// Pooling, Linear and the parameter-free modules on the CPU: max pooling against the direct
// reference (NaN included), its shared window rule against brute force, gradchecks.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "core/ops.h"
#include "kernels/nn_pool_rule.h"
#include "nn/activation.h"
#include "nn/linear.h"
#include "nn/pooling.h"
#include "tests/nn/nn_test_util.h"
#include "tests/nn/reference_layers.h"
#include "tests/support/compare.h"
#include "tests/support/gradcheck.h"

namespace ember {
namespace {

using testing::all_close;
using testing::gradcheck;
using testing::random_leaf;
using testing::uniform_tensor;
using V = std::vector<Tensor>;

struct PoolCase {
  Shape input;
  nn::Size2 kernel, stride, padding;
};

const std::vector<PoolCase> kPoolCases = {
    {{2, 3, 8, 8}, 3, 2, 1},        // the ImageNet stem's pool
    {{1, 2, 7, 9}, 3, 2, 1},        // odd sizes
    {{2, 1, 5, 5}, 2, 2, 0},        // non-overlapping
    {{1, 2, 6, 5}, {3, 2}, {1, 2}, {1, 1}},
    {{1, 1, 1, 1}, 3, 2, 1},        // a single pixel: every window mostly padding
    {{3, 2, 112, 112}, 3, 2, 1},    // stem size: the parallel loop
};

TEST(MaxPool2d, MatchesDirectLoops) {
  uint64_t seed = 1;
  for (const PoolCase& c : kPoolCases) {
    SCOPED_TRACE(shape_str(c.input));
    Tensor x = uniform_tensor(c.input, seed++, -3, 3);
    Tensor y = nn::max_pool2d(x, {c.kernel, c.stride, c.padding});
    EXPECT_TRUE(all_close(y, testing::reference_max_pool2d(x, c.kernel, c.stride, c.padding), 0, 0));
  }
}

TEST(MaxPool2d, NaNPropagatesAndGetsTheGradient) {
  std::vector<float> v(16, 1.0f);
  v[5] = std::numeric_limits<float>::quiet_NaN();
  v[10] = 7.0f;
  Tensor x = from_vector<float>(v, {1, 1, 4, 4}).set_requires_grad(true);
  Tensor y = nn::max_pool2d(x, {2, 2, 0});
  const auto out = y.to_vector<float>();
  EXPECT_TRUE(std::isnan(out[0]));  // window with the NaN
  EXPECT_EQ(out[3], 7.0f);
  EXPECT_EQ(out[1], 1.0f);
  sum(y * from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2})).backward();
  const auto g = x.grad().to_vector<float>();
  EXPECT_EQ(g[5], 1.0f);   // the NaN won its window
  EXPECT_EQ(g[10], 4.0f);
  EXPECT_EQ(g[2], 2.0f);   // ties (all 1): the first element of the window, as torch
  EXPECT_EQ(g[8], 3.0f);
}

TEST(MaxPool2d, Gradcheck) {
  uint64_t seed = 50;
  for (const PoolCase& c : kPoolCases) {
    if (shape_numel(c.input) > 1000) continue;
    SCOPED_TRACE(shape_str(c.input));
    // Random doubles have no ties, so the maximum is differentiable everywhere.
    EXPECT_TRUE(gradcheck([&](const V& v) { return nn::max_pool2d(v[0], {c.kernel, c.stride, c.padding}); },
                          {random_leaf(c.input, seed++)}));
  }
}

TEST(MaxPool2d, CoveringWindowsMatchBruteForce) {
  // The gather backward's window range, for every position of many geometries.
  for (int64_t kernel = 1; kernel <= 4; ++kernel)
    for (int64_t stride = 1; stride <= 3; ++stride)
      for (int64_t pad = 0; 2 * pad <= kernel; ++pad)
        for (int64_t size = kernel; size <= 9; ++size) {
          const int64_t out = (size + 2 * pad - kernel) / stride + 1;
          for (int64_t i = 0; i < size; ++i) {
            int64_t first, end;
            kernels::pool_covering_outputs(i, kernel, stride, pad, out, &first, &end);
            for (int64_t o = 0; o < out; ++o) {
              const bool covers = o * stride - pad <= i && i <= o * stride - pad + kernel - 1;
              ASSERT_EQ(covers, o >= first && o < end)
                  << "kernel " << kernel << " stride " << stride << " pad " << pad << " size " << size << " i " << i
                  << " o " << o;
            }
          }
        }
}

TEST(MaxPool2d, ModuleAndErrors) {
  nn::MaxPool2d pool(3, 2, 1);
  EXPECT_EQ(pool.describe(), "kernel_size=(3, 3), stride=(2, 2), padding=(1, 1)");
  EXPECT_EQ(pool(zeros({2, 64, 112, 112})).sizes(), (Shape{2, 64, 56, 56}));
  EXPECT_THROW(nn::max_pool2d(zeros({1, 1, 4, 4}), {2, 2, 2}), Error);  // padding > kernel/2
  EXPECT_THROW(nn::max_pool2d(zeros({1, 4, 4}), {2, 2, 0}), Error);
}

TEST(AdaptiveAvgPool2d, MeanOverPlanesAndGradcheck) {
  Tensor x = uniform_tensor({2, 3, 4, 5}, 7);
  Tensor y = nn::AdaptiveAvgPool2d()(x);
  EXPECT_EQ(y.sizes(), (Shape{2, 3, 1, 1}));
  EXPECT_TRUE(all_close(y, mean(x, {2, 3}, true), 1e-7, 1e-6));
  EXPECT_TRUE(gradcheck([](const V& v) { return nn::global_avg_pool2d(v[0]); }, {random_leaf({2, 3, 3, 2}, 8)}));
  EXPECT_THROW(nn::AdaptiveAvgPool2d(2), Error);
}

TEST(Linear, ForwardGradcheckAndInit) {
  Tensor x = random_leaf({3, 5}, 60), w = random_leaf({4, 5}, 61), b = random_leaf({4}, 62);
  EXPECT_TRUE(gradcheck([](const V& v) { return nn::linear(v[0], v[1], v[2]); }, {x, w, b}));
  EXPECT_TRUE(gradcheck([](const V& v) { return nn::linear(v[0], v[1], Tensor()); }, {x, w}));
  Tensor y = nn::linear(x, w, b);
  EXPECT_TRUE(all_close(y, matmul(x, w.t()) + b, 1e-12, 1e-12));

  Generator gen(5);
  nn::Linear fc(512, 10, true, &gen);
  EXPECT_EQ(fc.describe(), "in_features=512, out_features=10, bias=True");
  const double bound = 1.0 / std::sqrt(512.0);
  for (const Tensor& t : {fc.weight(), fc.bias()})
    for (float v : t.to_vector<float>()) ASSERT_TRUE(v >= -bound && v <= bound) << v;
  EXPECT_THROW(nn::linear(zeros({3, 4}), zeros({4, 5}), Tensor()), Error);
}

TEST(SimpleModules, ReluFlattenIdentity) {
  Tensor x = from_vector<float>({-1, 2, -3, 4, 5, -6}, {1, 2, 3, 1});
  EXPECT_EQ(nn::ReLU()(x).to_vector<float>(), (std::vector<float>{0, 2, 0, 4, 5, 0}));
  EXPECT_EQ(nn::Flatten()(x).sizes(), (Shape{1, 6}));
  EXPECT_TRUE(nn::Identity()(x).same(x));
}

}  // namespace
}  // namespace ember
