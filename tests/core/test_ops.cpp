// Forward values of the core ops on the CPU against naive loops in double precision.
#include <cmath>

#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

Tensor rnd(const Shape& shape, uint64_t seed, DType dtype = DType::Float32, double low = -2, double high = 2) {
  Generator g(seed);
  Tensor t = empty(shape, dtype);
  return uniform_(t, low, high, &g);
}

// Value of t (contiguous double copy) at a multi-index, broadcasting size-1 dims.
double at(const std::vector<double>& v, const Shape& shape, const Shape& index) {
  int64_t off = 0, stride = 1;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    const int64_t id = shape[d] == 1 ? 0 : index[index.size() - shape.size() + d];
    off += id * stride;
    stride *= shape[d];
  }
  return v[static_cast<size_t>(off)];
}

Shape unravel(int64_t i, const Shape& shape) {
  Shape idx(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = i % shape[d];
    i /= shape[d];
  }
  return idx;
}

TEST(Ops, BroadcastingBinaryOpsMatchNaiveLoops) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{5, 7}, {5, 7}}, {{5, 7}, {7}}, {{5, 1}, {1, 7}}, {{3, 1, 5}, {4, 1}}, {{1}, {2, 3}}, {{}, {3}}, {{0, 3}, {3}}};
  uint64_t seed = 1;
  for (const auto& [sa, sb] : cases) {
    Tensor a = rnd(sa, seed++), b = rnd(sb, seed++, DType::Float32, 0.5, 2);  // b away from 0 for div
    const Shape out_shape = broadcast_shapes(sa, sb);
    const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
    struct Case {
      const char* name;
      Tensor got;
      double (*f)(double, double);
    };
    std::vector<Case> ops = {{"add", add(a, b, 0.5), [](double x, double y) { return x + 0.5 * y; }},
                             {"sub", a - b, [](double x, double y) { return x - y; }},
                             {"mul", a * b, [](double x, double y) { return x * y; }},
                             {"div", a / b, [](double x, double y) { return x / y; }},
                             {"maximum", maximum(a, b), [](double x, double y) { return std::max(x, y); }},
                             {"minimum", minimum(a, b), [](double x, double y) { return std::min(x, y); }}};
    for (auto& op : ops) {
      ASSERT_EQ(op.got.sizes(), out_shape) << op.name;
      std::vector<double> want(static_cast<size_t>(shape_numel(out_shape)));
      for (int64_t i = 0; i < shape_numel(out_shape); ++i) {
        const Shape idx = unravel(i, out_shape);
        want[i] = op.f(at(va, sa, idx), at(vb, sb, idx));
      }
      // float32 op vs double formula: one rounding of the result (plus one of 0.5*y in add).
      EXPECT_ALL_CLOSE(op.got, from_vector(want, out_shape), 1e-6, 2e-7) << op.name << " " << shape_str(sa) << " "
                                                                         << shape_str(sb);
    }
  }
}

TEST(Ops, ComparisonsGiveUint8Masks) {
  Tensor a = from_vector<int64_t>({1, 2, 3, 4}, {4}), b = from_vector<int64_t>({1, 0, 3, 9}, {4});
  EXPECT_EQ(eq(a, b).dtype(), DType::UInt8);
  EXPECT_EQ(eq(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 1, 0}));
  EXPECT_EQ(ne(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 0, 1}));
  EXPECT_EQ(lt(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 0, 0, 1}));
  EXPECT_EQ(le(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 1, 1}));
  EXPECT_EQ(gt(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 0, 0}));
  EXPECT_EQ(ge(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 1, 0}));
  EXPECT_EQ(sum(eq(a, b)).dtype(), DType::Int64);
  EXPECT_EQ(sum(eq(a, b)).item(), 2.0);
  EXPECT_THROW(div(a, b), Error);  // integer division is not an ember op
}

TEST(Ops, UnaryOpsMatchLibm) {
  Tensor x = rnd({37}, 11, DType::Float64, 0.1, 3.0);
  const auto v = x.to_vector<double>();
  auto check = [&](const Tensor& got, double (*f)(double), const char* name) {
    std::vector<double> want;
    for (double e : v) want.push_back(f(e));
    EXPECT_ALL_CLOSE(got, from_vector(want, {37}), 0, 1e-15) << name;  // double: same libm call
  };
  check(exp(x), [](double e) { return std::exp(e); }, "exp");
  check(log(x), [](double e) { return std::log(e); }, "log");
  check(sqrt(x), [](double e) { return std::sqrt(e); }, "sqrt");
  check(neg(x), [](double e) { return -e; }, "neg");
  check(square(x), [](double e) { return e * e; }, "square");
  check(pow(x, 1.7), [](double e) { return std::pow(e, 1.7); }, "pow");
  check(x * 3.0 + 1.0, [](double e) { return e * 3.0 + 1.0; }, "affine");
  Tensor y = from_vector<float>({-2, -0.f, 0, 1.5, NAN}, {5});
  std::vector<float> r = relu(y).to_vector<float>();
  EXPECT_EQ(r[0], 0.f);
  EXPECT_EQ(r[3], 1.5f);
  EXPECT_TRUE(std::isnan(r[4])) << "relu propagates NaN like torch";
  EXPECT_EQ(abs(y).to_vector<float>()[0], 2.f);
  EXPECT_THROW(exp(arange(3)), Error);
}

TEST(Ops, SumAndMeanOverDims) {
  Tensor x = rnd({3, 4, 5}, 21, DType::Float64);
  const auto v = x.to_vector<double>();
  auto ref = [&](std::vector<bool> reduce) {
    Shape out;
    for (int d = 0; d < 3; ++d) out.push_back(reduce[d] ? 1 : x.size(d));
    std::vector<double> acc(static_cast<size_t>(shape_numel(out)), 0.0);
    for (int64_t i = 0; i < 60; ++i) {
      Shape idx = unravel(i, {3, 4, 5});
      for (int d = 0; d < 3; ++d)
        if (reduce[d]) idx[d] = 0;
      acc[(idx[0] * out[1] + idx[1]) * out[2] + idx[2]] += v[i];
    }
    return from_vector(acc, out);
  };
  EXPECT_ALL_CLOSE(sum(x, {0}, true), ref({true, false, false}), 1e-12, 1e-12);
  EXPECT_ALL_CLOSE(sum(x, {1}, true), ref({false, true, false}), 1e-12, 1e-12);
  EXPECT_ALL_CLOSE(sum(x, {-1}, true), ref({false, false, true}), 1e-12, 1e-12);
  EXPECT_ALL_CLOSE(sum(x, {0, 2}, true), ref({true, false, true}), 1e-12, 1e-12);  // not one run: permute path
  EXPECT_ALL_CLOSE(sum(x, {0, 1}, false), ref({true, true, false}).reshape({5}), 1e-12, 1e-12);
  EXPECT_ALL_CLOSE(sum(x).reshape({1, 1, 1}), ref({true, true, true}), 1e-12, 1e-12);
  EXPECT_ALL_CLOSE(mean(x, {1}), ref({false, true, false}).reshape({3, 5}) / 4.0, 1e-12, 1e-12);
  // A non-contiguous input reduces like its contiguous copy.
  Tensor p = x.permute({2, 0, 1});
  EXPECT_ALL_CLOSE(sum(p, {1}), sum(p.contiguous(), {1}), 1e-12, 1e-12);
  EXPECT_EQ(sum(zeros({4, 0}), {1}).to_vector<float>(), std::vector<float>(4, 0.f));
  EXPECT_EQ(sum(arange(5)).item(), 10.0);
  EXPECT_THROW(mean(arange(5)), Error);
  EXPECT_THROW(sum(x, {3}), Error);
  EXPECT_THROW(sum(x, {1, 1}), Error);
}

TEST(Ops, SumToReversesBroadcasting) {
  Tensor g = ones({2, 3, 4});
  EXPECT_EQ(sum_to(g, {3, 1}).to_vector<float>(), std::vector<float>(3, 8.f));
  EXPECT_EQ(sum_to(g, {4}).to_vector<float>(), std::vector<float>(4, 6.f));
  EXPECT_EQ(sum_to(g, {}).item(), 24.0);
  EXPECT_THROW(sum_to(g, {5}), Error);
}

TEST(Ops, MaxAndArgmaxTakeTheFirstMaximum) {
  Tensor x = from_vector<float>({1, 5, 5, 2, 7, 7, 7, 0, -1, -3, -2, -1}, {3, 4});
  MaxResult r = max(x, 1);
  EXPECT_EQ(r.values.to_vector<float>(), (std::vector<float>{5, 7, -1}));
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(argmax(x, 0).to_vector<int64_t>(), (std::vector<int64_t>{1, 1, 1, 0}));
  EXPECT_EQ(max(x, 0, true).values.sizes(), (Shape{1, 4}));
  EXPECT_EQ(max(x).item(), 7.0);
  Tensor n = from_vector<float>({1, NAN, 3, NAN}, {4});
  EXPECT_TRUE(std::isnan(max(n).item()));
  EXPECT_EQ(argmax(n, 0).item(), 1.0);  // the first NaN, as in torch
  EXPECT_THROW(max(zeros({2, 0}), 1), Error);
}

TEST(Ops, MatmulMatchesNaiveProduct) {
  auto naive = [](const Tensor& a, const Tensor& b) {  // [B, m, k] @ [B, k, n], broadcasting B
    const Tensor a3 = a.dim() == 2 ? a.unsqueeze(0) : a, b3 = b.dim() == 2 ? b.unsqueeze(0) : b;
    const int64_t B = std::max(a3.size(0), b3.size(0)), m = a3.size(1), k = a3.size(2), n = b3.size(2);
    const auto va = a3.contiguous().to_vector<double>(), vb = b3.contiguous().to_vector<double>();
    std::vector<double> c(static_cast<size_t>(B * m * n), 0.0);
    for (int64_t q = 0; q < B; ++q)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j)
          for (int64_t p = 0; p < k; ++p) {
            const int64_t qa = a3.size(0) == 1 ? 0 : q, qb = b3.size(0) == 1 ? 0 : q;
            c[(q * m + i) * n + j] += va[(qa * m + i) * k + p] * vb[(qb * k + p) * n + j];
          }
    Tensor out = from_vector(c, {B, m, n});
    return (a.dim() == 2 && b.dim() == 2) ? out.view({m, n}) : out;
  };
  Tensor a = rnd({7, 5}, 31), b = rnd({5, 3}, 32);
  // float32 GEMM with k <= 13 terms of size <= 4: error well under 1e-5.
  EXPECT_ALL_CLOSE(matmul(a, b), naive(a, b), 1e-5, 1e-5);
  EXPECT_ALL_CLOSE(matmul(b.t(), a.t()), naive(b.t(), a.t()), 1e-5, 1e-5);  // transposed operands, no copies
  Tensor ba = rnd({4, 7, 5}, 33), bb = rnd({4, 5, 3}, 34);
  EXPECT_ALL_CLOSE(matmul(ba, bb), naive(ba, bb), 1e-5, 1e-5);
  EXPECT_ALL_CLOSE(matmul(ba, b), naive(ba, b), 1e-5, 1e-5);
  EXPECT_ALL_CLOSE(matmul(a, bb), naive(a, bb), 1e-5, 1e-5);
  EXPECT_ALL_CLOSE(matmul(ba.slice(2, 0, 5, 2), rnd({3, 13}, 35)), naive(ba.slice(2, 0, 5, 2), rnd({3, 13}, 35)), 1e-5,
                   1e-5);  // strided columns: copied first
  EXPECT_EQ(matmul(zeros({3, 0}), zeros({0, 2})).to_vector<float>(), std::vector<float>(6, 0.f));
  EXPECT_EQ(matmul(zeros({0, 4}), zeros({4, 2})).numel(), 0);
  EXPECT_THROW(matmul(a, a), Error);
  EXPECT_THROW(matmul(rnd({2, 7, 5}, 1), rnd({3, 5, 2}, 2)), Error);
}

TEST(Ops, LogSoftmaxMatchesFormula) {
  Tensor x = rnd({6, 9}, 41, DType::Float64, -5, 5);
  const auto v = x.to_vector<double>();
  std::vector<double> want(v.size());
  for (int r = 0; r < 6; ++r) {
    double s = 0;
    for (int c = 0; c < 9; ++c) s += std::exp(v[r * 9 + c]);
    for (int c = 0; c < 9; ++c) want[r * 9 + c] = v[r * 9 + c] - std::log(s);
  }
  EXPECT_ALL_CLOSE(log_softmax(x, 1), from_vector(want, {6, 9}), 1e-12, 1e-12);
  EXPECT_ALL_CLOSE(log_softmax(x.t(), 0), from_vector(want, {6, 9}).t(), 1e-12, 1e-12);
  EXPECT_ALL_CLOSE(sum(softmax(x, 1), {1}), ones({6}, DType::Float64), 1e-12, 0);
  // Large logits stay finite (the max is subtracted first).
  Tensor big = from_vector<float>({1000, 0, -1000}, {1, 3});
  EXPECT_NEAR(log_softmax(big).to_vector<float>()[0], 0.f, 1e-6);
}

TEST(Ops, CrossEntropyMatchesFormulaWithLabelSmoothing) {
  Tensor x = rnd({5, 4}, 51, DType::Float64, -3, 3);
  Tensor t = from_vector<int64_t>({0, 3, 1, 1, 2}, {5});
  const auto v = x.to_vector<double>();
  for (double eps : {0.0, 0.1, 1.0}) {
    double total = 0;
    for (int r = 0; r < 5; ++r) {
      double s = 0, row = 0;
      for (int c = 0; c < 4; ++c) s += std::exp(v[r * 4 + c]), row += v[r * 4 + c];
      const double lse = std::log(s);
      // torch: (1 - eps) * nll + eps * mean over classes of -log p
      total += (1 - eps) * (lse - v[r * 4 + t.to_vector<int64_t>()[r]]) + eps * (lse - row / 4);
    }
    EXPECT_NEAR(cross_entropy(x, t, eps).item(), total / 5, 1e-12) << eps;
  }
  EXPECT_THROW(cross_entropy(x, from_vector<int64_t>({0, 4, 0, 0, 0}, {5})), Error);
  EXPECT_THROW(cross_entropy(x, from_vector<int64_t>({0, 1}, {2})), Error);
  EXPECT_THROW(cross_entropy(x, t.to(DType::Int32)), Error);
  EXPECT_THROW(cross_entropy(x, t, 1.5), Error);
  EXPECT_EQ(count_correct(from_vector<float>({0, 1, 5, 2, 1, 1}, {3, 2}), from_vector<int64_t>({1, 0, 1}, {3})).item(),
            2.0);
}

}  // namespace
}  // namespace ember
