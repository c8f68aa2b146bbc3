// The scrambled Halton sequence of --tune: the plain sequence's known values, and the
// stratification that scrambling must keep (Note [quasi-random search]).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "apps/compare/quasi_random.h"
#include "core/error.h"

namespace ember::compare {
namespace {

TEST(Halton, PlainSequenceHasTheKnownRadicalInverses) {
  const HaltonSequence h(3, /*seed=*/0, /*scramble=*/false);
  // Radical inverses written out by hand: base 2, 3 and 5 of indices 0..8.
  const double base2[] = {0, 1. / 2, 1. / 4, 3. / 4, 1. / 8, 5. / 8, 3. / 8, 7. / 8, 1. / 16};
  const double base3[] = {0, 1. / 3, 2. / 3, 1. / 9, 4. / 9, 7. / 9, 2. / 9, 5. / 9, 8. / 9};
  const double base5[] = {0, 1. / 5, 2. / 5, 3. / 5, 4. / 5, 1. / 25, 6. / 25, 11. / 25, 16. / 25};
  for (uint64_t i = 0; i < 9; ++i) {
    // 1 ulp-scale tolerance: the sum runs over ~50 digit positions in double.
    EXPECT_NEAR(h.coordinate(i, 0), base2[i], 1e-15) << "index " << i;
    EXPECT_NEAR(h.coordinate(i, 1), base3[i], 1e-15) << "index " << i;
    EXPECT_NEAR(h.coordinate(i, 2), base5[i], 1e-15) << "index " << i;
  }
  EXPECT_NEAR(h.coordinate(1000, 0), 0.0927734375, 1e-15);  // 1000 = 1111101000b -> 0.0001011111b
}

TEST(Halton, BasesAreThePrimes) {
  const uint32_t primes[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29};
  for (int d = 0; d < 10; ++d) EXPECT_EQ(halton_base(d), primes[d]);
  EXPECT_EQ(halton_base(kMaxHaltonDimensions - 1), 131u);
  EXPECT_THROW(halton_base(kMaxHaltonDimensions), Error);
  EXPECT_THROW(HaltonSequence(0, 1), Error);
  EXPECT_THROW(HaltonSequence(kMaxHaltonDimensions + 1, 1), Error);
}

// The first b^k points of coordinate d put exactly one point in each interval [j/b^k, (j+1)/b^k).
void expect_one_per_interval(const HaltonSequence& h, int d, int k) {
  const uint64_t b = halton_base(d);
  uint64_t n = 1;
  for (int i = 0; i < k; ++i) n *= b;
  std::set<uint64_t> cells;
  for (uint64_t i = 0; i < n; ++i) {
    const double x = h.coordinate(i, d);
    ASSERT_TRUE(x >= 0 && x < 1) << x;
    cells.insert(static_cast<uint64_t>(x * static_cast<double>(n)));
  }
  EXPECT_EQ(cells.size(), n) << "dimension " << d << ", " << n << " points";
}

TEST(Halton, ScrambledCoordinatesStayStratified) {
  for (uint64_t seed : {1ull, 42ull, 0xFFFFFFFFFFull}) {
    const HaltonSequence h(5, seed);
    for (int k = 1; k <= 4; ++k) expect_one_per_interval(h, 0, k);
    for (int k = 1; k <= 3; ++k) expect_one_per_interval(h, 1, k);
    for (int k = 1; k <= 2; ++k) expect_one_per_interval(h, 2, k), expect_one_per_interval(h, 4, k);
  }
}

TEST(Halton, ScrambledPairsFillEveryBoxOfTheGrid) {
  // Points 0..(2^a 3^c - 1) of coordinates (0, 1): one in each box of the 2^a x 3^c grid.
  const HaltonSequence h(2, 7);
  for (auto [a, c] : {std::pair{2, 2}, std::pair{3, 1}, std::pair{4, 2}}) {
    const uint64_t nx = 1ull << a, ny = static_cast<uint64_t>(std::pow(3, c));
    std::set<std::pair<uint64_t, uint64_t>> boxes;
    for (uint64_t i = 0; i < nx * ny; ++i)
      boxes.insert({static_cast<uint64_t>(h.coordinate(i, 0) * nx), static_cast<uint64_t>(h.coordinate(i, 1) * ny)});
    EXPECT_EQ(boxes.size(), nx * ny) << nx << " x " << ny;
  }
}

TEST(Halton, ScramblingDependsOnTheSeedOnly) {
  const HaltonSequence a(4, 3), b(4, 3), c(4, 4);
  int differ = 0;
  for (uint64_t i = 0; i < 16; ++i) {
    EXPECT_EQ(a.point(i), b.point(i));
    differ += a.point(i) != c.point(i);
  }
  EXPECT_GT(differ, 12);
  // Point 0 of a scrambled sequence is not the corner (0, ..., 0): the zeros are permuted too.
  EXPECT_NE(a.point(0), std::vector<double>(4, 0.0));
}

TEST(Halton, ScrambledMeanIsAHalfWithinTheDiscrepancyBound) {
  // Over 3^6 = 729 points each coordinate's sample mean is within 1/729 of 1/2 for a stratified
  // sequence (one point per interval of width 1/729), far tighter than random draws (~0.01).
  const HaltonSequence h(6, 11);
  for (int d = 0; d < 6; ++d) {
    double sum = 0;
    for (uint64_t i = 0; i < 729; ++i) sum += h.coordinate(i, d);
    const double tolerance = d == 0 ? 2.0 / 512 : 2.0 / 243;  // coarsest full stratification below 729 points
    EXPECT_NEAR(sum / 729, 0.5, tolerance) << "dimension " << d;
  }
}

}  // namespace
}  // namespace ember::compare
