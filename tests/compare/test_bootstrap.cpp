// Bootstrap statistics and verdicts (Note [bootstrap intervals]): known cases, a float64
// transcription of the percentile bootstrap, the coverage the interval promises, and the
// verdict lines.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "apps/compare/bootstrap.h"
#include "kernels/philox.h"

namespace ember::compare {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(Bootstrap, MeanAndSampleStandardDeviation) {
  const Estimate e = estimate({1, 2, 3, 4});
  EXPECT_EQ(e.n, 4);
  EXPECT_DOUBLE_EQ(e.mean, 2.5);
  EXPECT_NEAR(e.sd, 1.2909944487358056, 1e-15);  // sqrt(5/3)
  EXPECT_TRUE(e.low >= 1 && e.low <= e.mean && e.high >= e.mean && e.high <= 4) << e.low << " " << e.high;
}

TEST(Bootstrap, NonFiniteValuesAreLeftOut) {
  const Estimate e = estimate({0.5, kNaN, 0.7, kInf});
  EXPECT_EQ(e.n, 2);
  EXPECT_DOUBLE_EQ(e.mean, 0.6);
  const Estimate none = estimate({kNaN});
  EXPECT_EQ(none.n, 0);
  EXPECT_TRUE(std::isnan(none.mean));
  EXPECT_FALSE(none.has_interval());
}

TEST(Bootstrap, ConstantDataHasAZeroWidthIntervalAndOneValueHasNone) {
  const Estimate c = estimate({0.3, 0.3, 0.3});
  EXPECT_DOUBLE_EQ(c.low, 0.3);
  EXPECT_DOUBLE_EQ(c.high, 0.3);
  EXPECT_EQ(c.sd, 0);
  const Estimate one = estimate({0.3});
  EXPECT_EQ(one.n, 1);
  EXPECT_EQ(one.sd, 0);
  EXPECT_FALSE(one.has_interval());
  EXPECT_TRUE(std::isnan(one.low) && std::isnan(one.high));
}

TEST(Bootstrap, QuantileInterpolatesLikeNumpy) {
  // numpy.quantile([3, 1, 4, 1, 5], q) for q = 0, 0.1, 0.5, 0.975, 1: 1, 1, 3, 4.9, 5.
  const std::vector<double> v = {3, 1, 4, 1, 5};
  EXPECT_DOUBLE_EQ(quantile(v, 0), 1);
  EXPECT_DOUBLE_EQ(quantile(v, 0.1), 1);
  EXPECT_DOUBLE_EQ(quantile(v, 0.5), 3);
  EXPECT_NEAR(quantile(v, 0.975), 4.9, 1e-15);
  EXPECT_DOUBLE_EQ(quantile(v, 1), 5);
}

TEST(Bootstrap, IndicesAreUniformOverTheSample) {
  // 7 values, 70,000 draws: each index about 10,000 times; the chi-square statistic with 6
  // degrees of freedom exceeds 22.5 with probability 0.001.
  std::vector<int> count(7, 0);
  for (int64_t b = 0; b < 10000; ++b)
    for (int64_t i = 0; i < 7; ++i) {
      const int64_t k = bootstrap_index(99, b, i, 7);
      ASSERT_TRUE(k >= 0 && k < 7);
      ++count[k];
    }
  double chi2 = 0;
  for (int c : count) chi2 += (c - 10000.0) * (c - 10000.0) / 10000.0;
  EXPECT_LT(chi2, 22.5);
}

// The percentile bootstrap written out independently: long double sums, nth_element order
// statistics, the same resampling indices (Philox words mapped by multiply-shift).
std::pair<double, double> transcribed_interval(const std::vector<double>& x, int resamples, double level,
                                               uint64_t seed) {
  const size_t n = x.size();
  std::vector<long double> means;
  for (int b = 0; b < resamples; ++b) {
    long double s = 0;
    for (size_t i = 0; i < n; ++i) {
      const uint32_t w = kernels::philox4x32_10(seed, static_cast<uint64_t>(b) * n + i).w[0];
      s += x[(static_cast<uint64_t>(w) * n) >> 32];
    }
    means.push_back(s / n);
  }
  auto q = [&](long double p) {
    const long double h = p * (resamples - 1);
    const size_t lo = static_cast<size_t>(std::floor(h));
    std::vector<long double> m = means;
    std::nth_element(m.begin(), m.begin() + lo, m.end());
    const long double a = m[lo];
    const long double b = lo + 1 < m.size() ? *std::min_element(m.begin() + lo + 1, m.end()) : a;
    return static_cast<double>(a + (h - lo) * (b - a));
  };
  return {q((1 - level) / 2), q((1 + level) / 2)};
}

TEST(Bootstrap, IntervalEqualsAFloat64Transcription) {
  const std::vector<double> x = {0.61, 0.58, 0.66, 0.49, 0.71, 0.63, 0.55};
  for (double level : {0.95, 0.9}) {
    BootstrapOptions o;
    o.level = level;
    o.resamples = 3001;
    o.seed = 17;
    const Estimate e = estimate(x, o);
    const auto [low, high] = transcribed_interval(x, o.resamples, level, o.seed);
    // Means of 7 values summed in double vs long double: within a few ulps of 0.7.
    EXPECT_NEAR(e.low, low, 1e-14);
    EXPECT_NEAR(e.high, high, 1e-14);
    EXPECT_LT(e.low, e.mean);
    EXPECT_GT(e.high, e.mean);
  }
}

TEST(Bootstrap, IntervalCoversTheTrueMeanAtAboutItsLevel) {
  // 300 samples of 20 normal(0.5, 0.1) values: a 95% percentile interval should cover 0.5 in
  // about 93% of them (its known small-sample undercoverage); 300 trials have a binomial sd of
  // 1.5 points, so [0.87, 0.99] fails only for a broken interval.
  int covered = 0;
  BootstrapOptions o;
  o.resamples = 1000;
  for (int t = 0; t < 300; ++t) {
    std::vector<double> x;
    for (int i = 0; i < 20; ++i)
      x.push_back(kernels::normal_lane<double>(kernels::philox4x32_10(777 + t, i), 0, 0.5, 0.1));
    o.seed = 1000 + t;
    const Estimate e = estimate(x, o);
    covered += e.low <= 0.5 && 0.5 <= e.high;
  }
  EXPECT_GE(covered, 261);
  EXPECT_LE(covered, 297);
}

TEST(Bootstrap, PairedDifferenceRemovesTheSharedNoise) {
  // b = a - 0.02 run by run, with a varying a lot between repeats: the paired difference is
  // exactly 0.02 with a zero-width interval; unpaired it would not be clear.
  const std::vector<double> a = {0.40, 0.70, 0.55, 0.30}, b = {0.38, 0.68, 0.53, 0.28};
  const Estimate d = difference(a, b);
  EXPECT_NEAR(d.mean, 0.02, 1e-12);
  EXPECT_NEAR(d.low, 0.02, 1e-12);
  EXPECT_NEAR(d.high, 0.02, 1e-12);
  EXPECT_TRUE(is_clear(d));
  // A pair with a non-finite member is left out.
  EXPECT_EQ(difference({0.4, kNaN, 0.5}, {0.3, 0.2, 0.1}).n, 2);
}

TEST(Bootstrap, UnpairedDifferenceOfUnequalSamples) {
  const std::vector<double> a = {0.80, 0.82, 0.81}, b = {0.50, 0.52, 0.49, 0.51, 0.50};
  const Estimate d = difference(a, b);
  EXPECT_NEAR(d.mean, 0.81 - 0.504, 1e-12);
  EXPECT_TRUE(is_clear(d));
  EXPECT_GT(d.low, 0.28);  // every resampled mean of a is >= 0.80 and of b <= 0.52
  EXPECT_LT(d.high, 0.33);
  const Estimate overlap = difference({0.5, 0.7, 0.6}, {0.55, 0.65, 0.6, 0.5});
  EXPECT_FALSE(is_clear(overlap));
}

TEST(Bootstrap, VerdictLines) {
  Estimate d;
  d.n = 3;
  d.mean = 0.021;
  d.low = 0.008;
  d.high = 0.034;
  EXPECT_EQ(verdict("adam", "sgd", d, Quantity{}), "adam vs sgd: +2.1 points [0.8, 3.4]");
  d.low = -0.01;
  EXPECT_EQ(verdict("adam", "sgd", d, Quantity{}), "adam vs sgd: no clear difference at 95% (+2.1 points [-1.0, 3.4])");
  d.n = 1;
  d.low = d.high = kNaN;
  EXPECT_EQ(verdict("adam", "sgd", d, Quantity{}), "adam vs sgd: +2.1 points (1 run each, no interval: use --repeats)");
  const Estimate t = difference({10, 11, 12}, {20, 21, 22});
  EXPECT_EQ(verdict("adam", "sgd", t, Quantity{"s", 1, 0}), "adam vs sgd: -10 s [-10, -10]");
  EXPECT_EQ(verdict("a", "b", difference({kNaN}, {1}), Quantity{}), "a vs b: no runs to compare");
}

}  // namespace
}  // namespace ember::compare
