// The batch-norm kernels' arithmetic (kernels/nn_batch_norm.cu), replayed on the CPU with the
// same rules and index arithmetic (kernels/nn_batch_norm_rule.h) over bfloat16 activations,
// against the CPU layer (double statistics): split ranges tile each channel exactly, offsets
// and channels agree (NCHW and NHWC), and the forward, statistics, running update and
// backward match. The replay sums in its own order: the kernels' thread-to-channel mapping
// (bn_nhwc_lanes) and the fused ReLU mask are checked on the GPU (tests/nn/test_nn_cuda.cpp).
//
// Tolerances: the replay keeps float partial sums (the kernels' precision) where the CPU
// layer keeps double, so statistics agree to 1e-5 relative; bfloat16 outputs may land one
// rounding step apart (2^-8 relative) when the float and double results straddle a tie.
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "kernels/bfloat16.h"
#include "kernels/nn_batch_norm_rule.h"
#include "nn/functional.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using kernels::BnShape;

TEST(BatchNormRule, SplitsTileEachChannelAndOffsetsMatchChannels) {
  for (const BnShape s : {BnShape{1, 1, 1}, BnShape{3, 5, 7}, BnShape{2, 64, 1}, BnShape{512, 64, 1024},
                          BnShape{3, 5, 7, true}, BnShape{2, 6, 4, true}}) {
    const int splits = kernels::bn_splits(s, 132);
    EXPECT_GE(splits, 1);
    EXPECT_LE(splits, s.nhwc ? 512 : 64);
    int64_t next = 0;
    for (int k = 0; k < splits; ++k) {
      int64_t begin = 0, end = 0;
      kernels::bn_split_range(s.count(), k, splits, &begin, &end);
      EXPECT_EQ(begin, std::min(next, s.count()));
      EXPECT_GE(end, begin);
      next = end;
    }
    EXPECT_EQ(next, s.count());
    if (s.total() > 100000) continue;
    std::vector<int> seen(static_cast<size_t>(s.total()), 0);
    for (int64_t c = 0; c < s.channels; ++c)
      for (int64_t j = 0; j < s.count(); ++j) {
        const int64_t o = kernels::bn_offset(j, c, s);
        ASSERT_EQ(kernels::bn_channel_of(o, s), c);
        ++seen[static_cast<size_t>(o)];
      }
    for (int v : seen) ASSERT_EQ(v, 1);
  }
}

// bn_relu_floor's comparison is bn_relu_grad's test (float(T(z)) > 0) on the values around
// the floors, both zeros, the smallest subnormals, infinities, NaN and every 8191st float.
TEST(BatchNormRule, ReluFloorIsTheRoundedOutputTest) {
  const float floor16 = 0x1p-134f;
  std::vector<float> z = {0.f,     -0.f, 0x1p-149f, -0x1p-149f, floor16, std::nextafter(floor16, 1.f),
                          std::nextafter(floor16, 0.f), 0x1p-133f, -0x1p-133f, 1.f, -1.f,
                          std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::denorm_min()};
  for (uint64_t bits = 0; bits <= 0xffffffffull; bits += 8191) z.push_back(float_from_bits(uint32_t(bits)));
  for (const float v : z) {
    EXPECT_EQ(v > kernels::bn_relu_floor<float>(), kernels::bn_relu_grad<float>(1.f, v) != 0.f) << v;
    EXPECT_EQ(v > kernels::bn_relu_floor<bfloat16>(), kernels::bn_relu_grad<bfloat16>(1.f, v) != 0.f)
        << std::hexfloat << v;
  }
}

struct Replay {
  std::vector<float> mean, invstd, running_mean, running_var, dw, db;
  std::vector<bfloat16> y, dx;
};

// The kernels' algorithm, serially: per (split, channel) float partial sums, per channel the
// double combination, then the elementwise rules.
Replay replay(const std::vector<bfloat16>& x, const std::vector<bfloat16>& dy, const std::vector<float>& w,
              const std::vector<float>& b, const BnShape& s, int splits, double momentum, double eps) {
  Replay r;
  r.running_mean.assign(s.channels, 0.f);
  r.running_var.assign(s.channels, 1.f);
  for (int64_t c = 0; c < s.channels; ++c) {
    const float shift = x[kernels::bn_offset(0, c, s)];
    double sum = 0, squares = 0;
    for (int k = 0; k < splits; ++k) {
      int64_t begin = 0, end = 0;
      kernels::bn_split_range(s.count(), k, splits, &begin, &end);
      float ps = 0, pq = 0;
      for (int64_t j = begin; j < end; ++j) {
        const float d = float(x[kernels::bn_offset(j, c, s)]) - shift;
        ps += d;
        pq += d * d;
      }
      sum += ps;
      squares += pq;
    }
    double mean = 0, var = 0;
    kernels::bn_combine(sum, squares, shift, s.count(), &mean, &var);
    r.mean.push_back(float(mean));
    r.invstd.push_back(kernels::bn_invstd(var, eps));
    kernels::bn_update_running(&r.running_mean[c], &r.running_var[c], mean, var, s.count(), momentum);
  }
  for (int64_t i = 0; i < s.total(); ++i) {
    const int64_t c = kernels::bn_channel_of(i, s);
    r.y.push_back(bfloat16(kernels::bn_normalize(x[i], r.mean[c], r.invstd[c], w[c], b[c])));
  }
  for (int64_t c = 0; c < s.channels; ++c) {
    float sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t j = 0; j < s.count(); ++j) {
      const int64_t o = kernels::bn_offset(j, c, s);
      sum_dy += float(dy[o]);
      sum_dy_xhat += float(dy[o]) * (float(x[o]) - r.mean[c]) * r.invstd[c];
    }
    r.db.push_back(sum_dy);
    r.dw.push_back(sum_dy_xhat);
  }
  for (int64_t i = 0; i < s.total(); ++i) {
    const int64_t c = kernels::bn_channel_of(i, s);
    const float m = 1.f / float(s.count());
    r.dx.push_back(bfloat16(
        kernels::bn_input_grad(dy[i], x[i], r.mean[c], r.invstd[c], w[c], r.db[c] * m, r.dw[c] * m)));
  }
  return r;
}

Tensor random(const Shape& shape, uint64_t seed, double low, double high) {
  Generator g(seed);
  Tensor t = empty(shape);
  return uniform_(t, low, high, &g);
}

template <class T>
std::vector<T> values(const Tensor& t) {
  std::vector<T> out(static_cast<size_t>(t.numel()));
  copy_to_host(out.data(), t.contiguous(), out.size() * sizeof(T));
  return out;
}

// The values of an [N, C, H, W] tensor in the order of its memory layout (NCHW or NHWC).
Tensor in_memory_order(const Tensor& t, bool nhwc) { return nhwc ? t.permute({0, 2, 3, 1}).contiguous() : t; }

TEST(BatchNormRule, ReplayedKernelsMatchTheCpuLayer) {
  const double momentum = 0.1, eps = 1e-5;
  // An offset keeps the shift in the statistics honest (values far from zero).
  const Tensor x = (random({5, 3, 7, 9}, 1, -2, 2) + 3.0).to(DType::BFloat16);
  const Tensor dy = random({5, 3, 7, 9}, 2, -1, 1).to(DType::BFloat16);
  const Tensor w = random({3}, 3, 0.5, 1.5), b = random({3}, 4, -0.5, 0.5);
  for (const auto& [splits, nhwc] : {std::pair{1, false}, std::pair{4, false}, std::pair{3, true}}) {
    SCOPED_TRACE(::testing::Message() << splits << " splits" << (nhwc ? ", NHWC" : ""));
    const BnShape s{5, 3, 7 * 9, nhwc};
    const Replay r = replay(values<bfloat16>(in_memory_order(x, nhwc)), values<bfloat16>(in_memory_order(dy, nhwc)),
                            values<float>(w), values<float>(b), s, splits, momentum, eps);
    Tensor running_mean = zeros({3}), running_var = ones({3});
    Tensor xg = x.detach().set_requires_grad(true), wg = w.detach().set_requires_grad(true),
           bg = b.detach().set_requires_grad(true);
    const Tensor y = nn::batch_norm(xg, wg, bg, running_mean, running_var, true, momentum, eps);
    (y.to(DType::Float32) * dy.to(DType::Float32)).sum().backward();
    const auto f32 = [nhwc](const std::vector<bfloat16>& v, const Shape& shape) {
      std::vector<float> f(v.begin(), v.end());
      if (!nhwc) return from_vector(f, shape);
      return from_vector(f, {shape[0], shape[2], shape[3], shape[1]}).permute({0, 3, 1, 2});
    };
    EXPECT_ALL_CLOSE(f32(r.y, x.sizes()), y.detach().to(DType::Float32), 1e-2, 1.0 / 128);
    EXPECT_ALL_CLOSE(from_vector(r.running_mean, {3}), running_mean, 1e-5, 1e-5);
    EXPECT_ALL_CLOSE(from_vector(r.running_var, {3}), running_var, 1e-5, 1e-5);
    EXPECT_ALL_CLOSE(from_vector(r.dw, {3}), wg.grad(), 1e-3, 1e-4);
    EXPECT_ALL_CLOSE(from_vector(r.db, {3}), bg.grad(), 1e-3, 1e-4);
    EXPECT_ALL_CLOSE(f32(r.dx, x.sizes()), xg.grad().to(DType::Float32), 1e-2, 1.0 / 128);
  }
}

}  // namespace
}  // namespace ember
