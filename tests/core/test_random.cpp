// Philox: known-answer vectors, the distribution of uniform and normal streams, and the
// stream layout that makes CPU and CUDA agree.
#include <cmath>

#include <gtest/gtest.h>

#include "core/ops.h"
#include "kernels/philox.h"

namespace ember {
namespace {

using kernels::PhiloxWords;

// Known-answer vectors of Random123 (kat_vectors, philox4x32 with 10 rounds).
TEST(Philox, KnownAnswerVectors) {
  struct Kat {
    PhiloxWords ctr;
    uint32_t k0, k1;
    PhiloxWords want;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const Kat& k : kats) {
    const PhiloxWords got = kernels::philox4x32_10(k.ctr, k.k0, k.k1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got.w[i], k.want.w[i]) << "word " << i;
  }
}

TEST(Philox, UniformStreamHasTheRightMoments) {
  Generator gen(7);
  Tensor u = rand({200003}, DType::Float64, &gen);
  const auto v = u.to_vector<double>();
  double s = 0, s2 = 0, lo = 1, hi = 0;
  for (double x : v) s += x, s2 += x * x, lo = std::min(lo, x), hi = std::max(hi, x);
  const double n = static_cast<double>(v.size()), m = s / n, var = s2 / n - m * m;
  // Standard errors: mean 0.29/sqrt(n) ~ 6.5e-4, variance ~ 2e-4; 5 sigma bounds.
  EXPECT_NEAR(m, 0.5, 3.3e-3);
  EXPECT_NEAR(var, 1.0 / 12, 1e-3);
  EXPECT_GE(lo, 0.0);
  EXPECT_LT(hi, 1.0);
}

TEST(Philox, NormalStreamHasTheRightMoments) {
  Generator gen(8);
  Tensor z = randn({200001}, DType::Float64, &gen);
  const auto v = z.to_vector<double>();
  double s = 0, s2 = 0, s4 = 0;
  for (double x : v) s += x, s2 += x * x, s4 += x * x * x * x;
  const double n = static_cast<double>(v.size());
  // 5 sigma: mean 5/sqrt(n) = 0.011, variance 5*sqrt(2/n) = 0.016, 4th moment 5*sqrt(96/n) = 0.11.
  EXPECT_NEAR(s / n, 0.0, 0.011);
  EXPECT_NEAR(s2 / n, 1.0, 0.016);
  EXPECT_NEAR(s4 / n, 3.0, 0.11);
}

TEST(Philox, StreamsFollowTheGeneratorCounter) {
  Generator a(42), b(42);
  Tensor first = rand({10}, {}, &a);
  EXPECT_EQ(a.offset(), 3u);  // ceil(10 / 4) counters
  Tensor second = rand({5}, {}, &a);
  Tensor both = rand({15}, {}, &b);
  // Element i of a call with counter c0 is element 4*c0 + i of one long stream.
  const auto f = first.to_vector<float>(), s = second.to_vector<float>(), all = both.to_vector<float>();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(f[i], all[i]);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(s[i], kernels::philox_uniform<float>(42, 3, i, 0.0, 1.0));
  Generator c(43), d(42);
  EXPECT_NE(rand({4}, {}, &c).to_vector<float>(), rand({4}, {}, &d).to_vector<float>());
}

TEST(Philox, DefaultGeneratorIsSeedable) {
  manual_seed(5);
  const auto x = randn({6}).to_vector<float>();
  manual_seed(5);
  EXPECT_EQ(randn({6}).to_vector<float>(), x);
}

}  // namespace
}  // namespace ember
