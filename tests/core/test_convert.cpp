// The dtype conversion rule (kernels/convert.h, Note [float to integer conversion]) against
// its definition written out per case: NaN to 0, saturation at and past each integer type's
// bounds (infinities too), truncation toward zero inside, for float32, float64 and bfloat16
// sources; the ordinary conversions unchanged. And the tensor ops that use it on the CPU
// (to(dtype), fill_, arange); the CUDA kernels use the same function, and
// tests/core/test_cuda_copy.cpp checks they give the same bits.
#include <cmath>
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "core/ops.h"
#include "kernels/convert.h"

namespace ember {
namespace {

using kernels::convert_value;

template <class D>
void expect_saturating_rule() {
  using L = std::numeric_limits<D>;
  const double lo = static_cast<double>(L::min()), hi = static_cast<double>(L::max());
  for (double x : {0.0, -0.0, 0.5, -0.5, 0.999, -0.999, 1.0, -1.0, 1.5, -1.5, 2.75, -2.75, 100.25, -100.25}) {
    const double t = std::trunc(x);
    const D want = t < lo ? L::min() : (t > hi ? L::max() : static_cast<D>(t));
    EXPECT_EQ(convert_value<D>(x), want) << x;
    EXPECT_EQ(convert_value<D>(static_cast<float>(x)), want) << x;
  }
  EXPECT_EQ(convert_value<D>(std::nan("")), D(0));
  EXPECT_EQ(convert_value<D>(-std::nanf("")), D(0));
  EXPECT_EQ(convert_value<D>(bfloat16(std::nanf(""))), D(0));
  EXPECT_EQ(convert_value<D>(INFINITY), L::max());
  EXPECT_EQ(convert_value<D>(-INFINITY), L::min());
  EXPECT_EQ(convert_value<D>(1e30), L::max());
  EXPECT_EQ(convert_value<D>(-1e30f), L::min());
  EXPECT_EQ(convert_value<D>(bfloat16(-3e38f)), L::min());
  // The bounds themselves and their neighbours (2^digits is the first value past the top).
  const double past = std::ldexp(1.0, L::digits);
  EXPECT_EQ(convert_value<D>(past), L::max());
  EXPECT_EQ(convert_value<D>(std::nextafter(past, 0.0)), static_cast<D>(std::nextafter(past, 0.0)));
  if (L::is_signed) {
    EXPECT_EQ(convert_value<D>(-past), L::min());
    EXPECT_EQ(convert_value<D>(std::nextafter(-past, -1e300)), L::min());
    EXPECT_EQ(convert_value<D>(std::nextafter(-past, 0.0)), static_cast<D>(std::nextafter(-past, 0.0)));
  }
}

TEST(ConvertRule, FloatToIntegerSaturatesAndMapsNanToZero) {
  expect_saturating_rule<int64_t>();
  expect_saturating_rule<int32_t>();
  expect_saturating_rule<uint8_t>();
  EXPECT_EQ(convert_value<uint8_t>(255.9), 255);
  EXPECT_EQ(convert_value<uint8_t>(256.0), 255);
  EXPECT_EQ(convert_value<uint8_t>(-0.99f), 0);
  EXPECT_EQ(convert_value<int32_t>(2147483647.0), 2147483647);
  EXPECT_EQ(convert_value<int32_t>(2147483648.0f), 2147483647);
}

TEST(ConvertRule, OtherConversionsAreCpps) {
  EXPECT_EQ(convert_value<uint8_t>(int64_t(300)), uint8_t(300 % 256));  // integers keep their low bits
  EXPECT_EQ(convert_value<int32_t>(int64_t(-5)), -5);
  EXPECT_EQ(convert_value<float>(0.1), static_cast<float>(0.1));
  EXPECT_EQ(convert_value<double>(int64_t(1) << 60), std::ldexp(1.0, 60));
  EXPECT_EQ(convert_value<bfloat16>(1.00390625).bits, bfloat16(1.00390625f).bits);  // via float, ties to even
  EXPECT_EQ(convert_value<float>(bfloat16(3.0f)), 3.0f);
}

TEST(ConvertRule, TensorConversionsFollowTheRule) {
  const Tensor x = from_vector<float>({NAN, INFINITY, -INFINITY, 3e9f, -3e9f, 2.9f, -2.9f, 300.f, -1.f}, {9});
  EXPECT_EQ(x.to(DType::Int32).to_vector<int32_t>(),
            (std::vector<int32_t>{0, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN, 2, -2, 300, -1}));
  EXPECT_EQ(x.to(DType::Int64).to_vector<int64_t>(),
            (std::vector<int64_t>{0, INT64_MAX, INT64_MIN, 3000000000, -3000000000, 2, -2, 300, -1}));
  EXPECT_EQ(x.to(DType::UInt8).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 255, 0, 255, 0, 2, 0, 255, 0}));
  Tensor filled = empty({3}, DType::Int64);
  filled.fill_(NAN);
  EXPECT_EQ(filled.to_vector<int64_t>(), std::vector<int64_t>(3, 0));
  filled.fill_(1e300);
  EXPECT_EQ(filled.to_vector<int64_t>(), std::vector<int64_t>(3, INT64_MAX));
}

}  // namespace
}  // namespace ember
