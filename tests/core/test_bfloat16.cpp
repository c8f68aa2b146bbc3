// bfloat16 (kernels/bfloat16.h) and the BFloat16 dtype: the rounding rule against an
// independent reference (nearest by distance in double, ties to even, IEEE overflow), on
// special values and a million random bit patterns; tensor arithmetic equals float
// arithmetic rounded once; casts carry gradients back in the source dtype; the ops that need
// float32/float64 refuse bfloat16 with a clear message.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "core/ops.h"
#include "kernels/bfloat16.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

double bf16_value(uint16_t bits) { return static_cast<double>(float_from_bfloat16_bits(bits)); }

// Reference: the two bfloat16 neighbours of f by truncation, the nearer one in double
// arithmetic, ties to the even mantissa; above the largest finite value by half an ulp or
// more, infinity (the next "value" past 0x7f7f counts as 2^128).
uint16_t reference_round(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint16_t lo = static_cast<uint16_t>((u >> 16) & 0x7fffu);  // magnitude, truncated
  const uint16_t hi = static_cast<uint16_t>(lo + 1);
  const double x = std::fabs(static_cast<double>(f));
  const double vlo = bf16_value(lo), vhi = hi == 0x7f80 ? std::ldexp(1.0, 128) : bf16_value(hi);
  const double dlo = x - vlo, dhi = vhi - x;
  uint16_t pick;
  if (dlo < dhi) pick = lo;
  else if (dhi < dlo) pick = hi;
  else pick = (lo & 1u) ? hi : lo;
  return static_cast<uint16_t>(sign | pick);
}

TEST(BFloat16, SpecialValues) {
  EXPECT_EQ(bfloat16_bits_from_float(0.0f), 0x0000);
  EXPECT_EQ(bfloat16_bits_from_float(-0.0f), 0x8000);
  EXPECT_EQ(bfloat16_bits_from_float(1.0f), 0x3f80);
  EXPECT_EQ(bfloat16_bits_from_float(-2.0f), 0xc000);
  EXPECT_EQ(bfloat16_bits_from_float(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(bfloat16_bits_from_float(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(bfloat16_bits_from_float(std::numeric_limits<float>::max()), 0x7f80);  // overflows to inf
  const uint16_t nan = bfloat16_bits_from_float(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(float_from_bfloat16_bits(nan)));
  // A signalling NaN whose payload lives only in the low 16 bits must not become inf.
  EXPECT_TRUE(std::isnan(float_from_bfloat16_bits(bfloat16_bits_from_float(float_from_bits(0x7f800001u)))));
  EXPECT_EQ(bfloat16_bits_from_float(float_from_bits(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(bfloat16_bits_from_float(float_from_bits(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(bfloat16_bits_from_float(float_from_bits(0x3f808001u)), 0x3f81);  // just above the tie
  EXPECT_EQ(float(bfloat16(3.0)), 3.0f);
  EXPECT_EQ(float(bfloat16(int64_t(-7))), -7.0f);
}

TEST(BFloat16, RoundingMatchesTheReferenceOnRandomBitPatterns) {
  std::mt19937 rng(12345);
  int checked = 0;
  for (int i = 0; i < 1000000; ++i) {
    const float f = float_from_bits(rng());
    if (std::isnan(f)) continue;
    const uint16_t got = bfloat16_bits_from_float(f), want = reference_round(f);
    if (got != want) {
      ADD_FAILURE() << "float bits " << std::hex << float_bits(f) << ": got " << got << ", want " << want;
      break;
    }
    ++checked;
  }
  EXPECT_GT(checked, 990000);
}

Tensor bf16_random(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  Tensor t = empty(shape);
  uniform_(t, -3, 3, &g);
  return t.to(DType::BFloat16);
}

TEST(BFloat16, TensorArithmeticIsFloatArithmeticRoundedOnce) {
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(7), int64_t(1001)}) {
    SCOPED_TRACE(n);
    Tensor a = bf16_random({n}, 1), b = bf16_random({n}, 2);
    Tensor fa = a.to(DType::Float32), fb = b.to(DType::Float32);
    EXPECT_BIT_EQUAL(a + b, (fa + fb).to(DType::BFloat16));
    EXPECT_BIT_EQUAL(a * b, (fa * fb).to(DType::BFloat16));
    EXPECT_BIT_EQUAL(relu(a), relu(fa).to(DType::BFloat16));
    EXPECT_BIT_EQUAL(exp(a), exp(fa).to(DType::BFloat16));
    EXPECT_EQ((a + b).dtype(), DType::BFloat16);
    // Sums accumulate in double and round once.
    EXPECT_BIT_EQUAL(sum(a), sum(a.to(DType::Float64)).to(DType::BFloat16));
  }
  Tensor m = bf16_random({5, 33}, 3);
  EXPECT_BIT_EQUAL(sum(m, {1}), sum(m.to(DType::Float64), {1}).to(DType::BFloat16));
  EXPECT_BIT_EQUAL(sum(m, {0}), sum(m.to(DType::Float64), {0}).to(DType::BFloat16));
}

TEST(BFloat16, CastsCarryGradientsBackInTheSourceDtype) {
  Generator g(4);
  Tensor x = empty({13});
  uniform_(x, -2, 2, &g);
  x.set_requires_grad(true);
  Tensor y = x.to(DType::BFloat16);
  sum(y * y).backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().dtype(), DType::Float32);
  // d/dx sum(round(x)^2) = 2 round(x), computed in bfloat16 then widened.
  EXPECT_BIT_EQUAL(x.grad(), (y.detach() * 2.0).to(DType::Float32));
}

TEST(BFloat16, OpsThatNeedFullPrecisionSaySo) {
  Tensor a = bf16_random({4, 4}, 5);
  try {
    (void)matmul(a, a);
    FAIL() << "matmul accepted bfloat16";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("float32 or float64"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)log_softmax(a, 1), Error);
}

}  // namespace
}  // namespace ember
