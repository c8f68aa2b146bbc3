// Autograd: every op's backward against central finite differences in double precision
// (tests/support/gradcheck.h states the tolerances), plus the engine's behaviour.
#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/ops.h"
#include "tests/support/compare.h"
#include "tests/support/gradcheck.h"

namespace ember {
namespace {

using testing::gradcheck;
using testing::random_leaf;
using V = std::vector<Tensor>;

TEST(Gradcheck, BinaryOpsWithBroadcasting) {
  const std::vector<std::pair<Shape, Shape>> shapes = {{{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 5}},
                                                       {{2, 1, 3}, {4, 1}}, {{}, {2, 3}}, {{1}, {1}}};
  uint64_t seed = 100;
  for (const auto& [sa, sb] : shapes) {
    Tensor a = random_leaf(sa, seed++), b = random_leaf(sb, seed++, 0.5, 2.0);  // b > 0 for div
    SCOPED_TRACE(shape_str(sa) + " with " + shape_str(sb));
    EXPECT_TRUE(gradcheck([](const V& x) { return add(x[0], x[1], 0.7); }, {a, b}));
    EXPECT_TRUE(gradcheck([](const V& x) { return sub(x[0], x[1], 1.3); }, {a, b}));
    EXPECT_TRUE(gradcheck([](const V& x) { return x[0] * x[1]; }, {a, b}));
    EXPECT_TRUE(gradcheck([](const V& x) { return x[0] / x[1]; }, {a, b}));
    EXPECT_TRUE(gradcheck([](const V& x) { return maximum(x[0], x[1]); }, {a, b}));
    EXPECT_TRUE(gradcheck([](const V& x) { return minimum(x[0], x[1]); }, {a, b}));
  }
}

TEST(Gradcheck, MaximumSplitsTiesLikeTorch) {
  Tensor a = from_vector<double>({1, 2, 3}, {3}).set_requires_grad(true);
  Tensor b = from_vector<double>({1, 5, 0}, {3}).set_requires_grad(true);
  sum(maximum(a, b)).backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.5, 0, 1}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{0.5, 1, 0}));
}

TEST(Gradcheck, UnaryAndScalarOps) {
  Tensor pos = random_leaf({4, 5}, 200, 0.2, 2.0);    // log, sqrt, pow need x > 0
  Tensor any = random_leaf({7}, 201);
  Tensor away = random_leaf({9}, 202, 0.1, 1.0);      // relu/abs: no input near the kink at 0
  EXPECT_TRUE(gradcheck([](const V& x) { return exp(x[0]); }, {any}));
  EXPECT_TRUE(gradcheck([](const V& x) { return log(x[0]); }, {pos}));
  EXPECT_TRUE(gradcheck([](const V& x) { return sqrt(x[0]); }, {pos}));
  EXPECT_TRUE(gradcheck([](const V& x) { return pow(x[0], 2.5); }, {pos}));
  EXPECT_TRUE(gradcheck([](const V& x) { return pow(x[0], -1.0); }, {pos}));
  EXPECT_TRUE(gradcheck([](const V& x) { return square(x[0]); }, {any}));
  EXPECT_TRUE(gradcheck([](const V& x) { return -x[0]; }, {any}));
  EXPECT_TRUE(gradcheck([](const V& x) { return 3.0 - x[0] * 2.0 + 1.5; }, {any}));
  EXPECT_TRUE(gradcheck([](const V& x) { return 1.0 / (x[0] + 3.0); }, {any}));
  EXPECT_TRUE(gradcheck([](const V& x) { return relu(x[0] - 0.55); }, {away}));
  EXPECT_TRUE(gradcheck([](const V& x) { return abs(x[0] - 0.55); }, {away}));
}

TEST(Gradcheck, Reductions) {
  Tensor x = random_leaf({3, 4, 5}, 300);
  EXPECT_TRUE(gradcheck([](const V& v) { return sum(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return mean(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return sum(v[0], {1}); }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return sum(v[0], {0, 2}, true); }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return mean(v[0], {-1}); }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return max(v[0], 1).values; }, {x}));  // random: no ties
  EXPECT_TRUE(gradcheck([](const V& v) { return max(v[0], 0, true).values; }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return max(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return sum_to(v[0], {4, 1}); }, {x}));
}

TEST(Gradcheck, Views) {
  Tensor x = random_leaf({4, 6}, 400);
  EXPECT_TRUE(gradcheck([](const V& v) { return v[0].view({2, 12}) * 2.0; }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return v[0].t().reshape({-1}) * 2.0; }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return v[0].permute({1, 0}) * v[0].t(); }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return v[0].slice(1, 1, 6, 2) * 3.0; }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return v[0].select(0, 2).slice(0, 0, 4) + v[0].select(1, -1); }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return v[0].unsqueeze(1).expand({4, 3, 6}) * 1.5; }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return v[0].flatten().clone() * 2.0; }, {x}));
}

TEST(Gradcheck, MatmulPlainBatchedAndTransposed) {
  Tensor a = random_leaf({3, 4}, 500), b = random_leaf({4, 5}, 501);
  Tensor ba = random_leaf({2, 3, 4}, 502), bb = random_leaf({2, 4, 5}, 503);
  EXPECT_TRUE(gradcheck([](const V& v) { return matmul(v[0], v[1]); }, {a, b}));
  EXPECT_TRUE(gradcheck([](const V& v) { return matmul(v[1].t(), v[0].t()); }, {a, b}));
  EXPECT_TRUE(gradcheck([](const V& v) { return matmul(v[0], v[1]); }, {ba, bb}));
  EXPECT_TRUE(gradcheck([](const V& v) { return matmul(v[0], v[1]); }, {ba, b}));
  EXPECT_TRUE(gradcheck([](const V& v) { return matmul(v[0], v[1]); }, {a, bb}));
}

TEST(Gradcheck, SoftmaxFamily) {
  Tensor x = random_leaf({5, 7}, 600, -3, 3);
  Tensor t = from_vector<int64_t>({0, 6, 3, 3, 1}, {5});
  EXPECT_TRUE(gradcheck([](const V& v) { return log_softmax(v[0], 1); }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return log_softmax(v[0], 0); }, {x}));
  EXPECT_TRUE(gradcheck([](const V& v) { return softmax(v[0], -1); }, {x}));
  for (double eps : {0.0, 0.1})
    EXPECT_TRUE(gradcheck([&](const V& v) { return cross_entropy(v[0], t, eps); }, {x})) << eps;
  EXPECT_TRUE(gradcheck([&](const V& v) { return cross_entropy(v[0].t().t() * 2.0, t); }, {x}));
}

TEST(Autograd, GradientAccumulatesWhenATensorIsUsedTwice) {
  Tensor x = from_vector<double>({1, 2, 3}, {3}).set_requires_grad(true);
  Tensor y = sum(x * x + x);  // dy/dx = 2x + 1
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 5, 7}));
  sum(x * 2.0).backward();  // a second graph accumulates into the same grad
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5, 7, 9}));
}

TEST(Autograd, AddGivesEachLeafItsOwnGradient) {
  // add passes one gradient tensor to both inputs: the leaves must not share its storage.
  Tensor a = ones({2}).set_requires_grad(true), b = ones({2}).set_requires_grad(true);
  sum(a + b).backward();
  NoGradGuard no_grad;
  a.grad().fill_(5.0);
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>{1, 1}));
}

TEST(Autograd, GradIntoAPreassignedViewIsInPlace) {
  Tensor flat = zeros({6});
  Tensor w = ones({2, 2}).set_requires_grad(true);
  w.set_grad(flat.slice(0, 1, 5).view({2, 2}));
  sum(w * 3.0).backward();
  EXPECT_EQ(flat.to_vector<float>(), (std::vector<float>{0, 3, 3, 3, 3, 0}));
}

TEST(Autograd, NoGradDetachAndRequiresGrad) {
  Tensor x = ones({2}).set_requires_grad(true);
  {
    NoGradGuard no_grad;
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_FALSE(grad_mode_enabled());
  }
  EXPECT_TRUE(grad_mode_enabled());
  Tensor d = (x * 2.0).detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  Tensor z = x * 2.0 + d;  // d contributes no gradient
  sum(z).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 2}));
  EXPECT_THROW(arange(3).set_requires_grad(true), Error);
  EXPECT_STREQ((x * 2.0).grad_fn()->name(), "UnaryBackward");
}

TEST(Autograd, ClearErrors) {
  Tensor x = ones({3}).set_requires_grad(true);
  Tensor y = x * x;
  try {
    y.backward();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("non-scalar"), std::string::npos) << e.what();
  }
  y.backward(ones({3}));  // with a gradient argument a non-scalar is fine
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2, 2, 2}));
  Tensor s = sum(x * x);
  s.backward();
  try {
    s.backward();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("second time"), std::string::npos) << e.what();
  }
  Tensor r = sum(x * x);
  r.backward(Tensor(), /*retain_graph=*/true);
  EXPECT_NO_THROW(r.backward());
  EXPECT_THROW(ones({2}).backward(), Error);  // nothing requires grad
  EXPECT_THROW(y.backward(ones({4})), Error);
}

TEST(Autograd, LongChainsRunInTopologicalOrder) {
  // A diamond repeated: every node must wait for all its consumers before running.
  Tensor x = from_vector<double>({0.5}, {1}).set_requires_grad(true);
  Tensor h = x;
  for (int i = 0; i < 50; ++i) h = h * 0.5 + h * 0.5 + h * 0.01;  // h *= 1.01
  sum(h).backward();
  EXPECT_NEAR(x.grad().item(), std::pow(1.01, 50), 1e-12);
}

}  // namespace
}  // namespace ember
