// IntDivider (kernels/int_divider.h): the multiply-shift quotient and remainder equal C++'s
// `/` and `%` for every divisor and numerator tried - the edges of the 32-bit range (1, 2,
// 2^31 - 1, 2^31, 2^32 - 1), powers of two and their neighbours, the largest primes below
// 2^32 and 2^31, and random ones - with numerators at every multiple boundary the divisor
// makes (k*d - 1, k*d, k*d + 1) and at the top of the range. Exact equality: the rule is
// exact by Granlund and Montgomery's theorem, so any difference is a bug.
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/int_divider.h"

namespace ember {
namespace {

using kernels::IntDivider;

std::vector<uint32_t> divisors() {
  std::vector<uint32_t> d = {1, 2, 3, 5, 6, 7, 9, 10, 25, 49, 100, 255, 256, 257, 641, 1000, 1024, 3072,
                             65535, 65536, 65537, 1000003, 0x7fffffffu, 0x80000000u, 0x80000001u, 0xfffffffeu,
                             0xffffffffu,
                             4294967291u, 4294967279u, 4294967231u,  // the three largest primes below 2^32
                             2147483629u, 2147483587u};              // primes below 2^31
  for (int k = 2; k < 32; ++k) {
    const uint32_t p = uint32_t(1) << k;
    d.insert(d.end(), {p - 1, p, p + 1});
  }
  std::mt19937 rng(14);
  for (int i = 0; i < 200; ++i) d.push_back(rng() | 1u);
  for (int i = 0; i < 200; ++i) d.push_back((rng() >> (rng() % 32)) | 1u);
  return d;
}

// Numerators around the multiples of d near 0, near the middle and near the top, and the
// ends of the range.
std::vector<uint32_t> numerators(uint32_t d, std::mt19937& rng) {
  std::vector<uint32_t> n = {0, 1, 2, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};
  const uint64_t top = 0xffffffffull;
  for (uint64_t k : {uint64_t(1), uint64_t(2), uint64_t(3), top / d / 2, top / d - 1, top / d})
    for (int64_t delta : {-1, 0, 1}) {
      const int64_t v = int64_t(k * d) + delta;
      if (v >= 0 && uint64_t(v) <= top) n.push_back(static_cast<uint32_t>(v));
    }
  for (int i = 0; i < 50; ++i) n.push_back(rng());
  return n;
}

TEST(IntDivider, QuotientAndRemainderEqualDivisionAndModulo) {
  std::mt19937 rng(2);
  int64_t checked = 0;
  for (uint32_t d : divisors()) {
    const IntDivider div(d);
    ASSERT_EQ(div.divisor(), d);
    for (uint32_t n : numerators(d, rng)) {
      const kernels::DivMod qr = div.divmod(n);
      ASSERT_EQ(qr.div, n / d) << n << " / " << d;
      ASSERT_EQ(qr.mod, n % d) << n << " % " << d;
      ASSERT_EQ(div.div(n), n / d);
      ASSERT_EQ(div.mod(n), n % d);
      ++checked;
    }
  }
  EXPECT_GT(checked, 30000);
}

TEST(IntDivider, EveryNumeratorOfSmallRangesForSmallDivisors) {
  // Exhaustive where it is cheap: every n below 2^14 and every n of the top 2^14, for the
  // divisors of small tensors' index math.
  for (uint32_t d = 1; d <= 100; ++d) {
    const IntDivider div(d);
    for (uint32_t n = 0; n < (1u << 14); ++n) ASSERT_EQ(div.div(n), n / d) << n << " / " << d;
    for (uint32_t n = 0xffffffffu; n >= 0xffffc000u; --n) ASSERT_EQ(div.div(n), n / d) << n << " / " << d;
  }
}

TEST(IntDivider, ZeroDivisorIsTreatedAsOne) {
  const IntDivider div(0);  // a launcher bug, but never a division by zero
  EXPECT_EQ(div.divisor(), 1u);
  EXPECT_EQ(div.div(12345), 12345u);
}

}  // namespace
}  // namespace ember
