// Dolan-More performance profiles of --workload: ratios and profile values on cases worked
// out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "apps/compare/performance_profile.h"
#include "core/error.h"

namespace ember::compare {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(PerformanceProfile, RatiosToTheBestOfEachWorkload) {
  // 4 workloads x 3 optimisers (seconds to target; Inf or NaN: not reached).
  const std::vector<std::vector<double>> t = {{10, 20, 40}, {30, 15, kInf}, {5, kNaN, 5}, {kInf, kInf, kInf}};
  const auto r = performance_ratios(t);
  const std::vector<std::vector<double>> want = {{1, 2, 4}, {2, 1, kInf}, {1, kInf, 1}, {kInf, kInf, kInf}};
  ASSERT_EQ(r.size(), want.size());
  for (size_t w = 0; w < want.size(); ++w)
    for (size_t s = 0; s < 3; ++s) EXPECT_EQ(r[w][s], want[w][s]) << w << "," << s;
  // rho(1): wins (ties count for both); the unsolved workload counts against everyone.
  EXPECT_DOUBLE_EQ(profile_at(r, 0, 1), 2.0 / 4);
  EXPECT_DOUBLE_EQ(profile_at(r, 1, 1), 1.0 / 4);
  EXPECT_DOUBLE_EQ(profile_at(r, 2, 1), 1.0 / 4);
  EXPECT_DOUBLE_EQ(profile_at(r, 0, 2), 3.0 / 4);
  EXPECT_DOUBLE_EQ(profile_at(r, 1, 1.999), 1.0 / 4);
  EXPECT_DOUBLE_EQ(profile_at(r, 1, 2), 2.0 / 4);
  EXPECT_DOUBLE_EQ(profile_at(r, 2, 1e9), 2.0 / 4);
}

TEST(PerformanceProfile, StepsAtEveryRatioUpToTauMax) {
  const std::vector<std::vector<double>> t = {{10, 20, 40}, {30, 15, kInf}, {5, kNaN, 5}};
  const PerformanceProfile p = performance_profile(t, 3.0);
  EXPECT_EQ(p.taus, (std::vector<double>{1, 2, 3}));  // the ratio 4 lies beyond tau_max
  ASSERT_EQ(p.fraction.size(), 3u);
  EXPECT_EQ(p.fraction[0], (std::vector<double>{2.0 / 3, 1, 1}));
  EXPECT_EQ(p.fraction[1], (std::vector<double>{1.0 / 3, 2.0 / 3, 2.0 / 3}));
  EXPECT_EQ(p.fraction[2], (std::vector<double>{1.0 / 3, 1.0 / 3, 1.0 / 3}));
  for (const auto& f : p.fraction)
    for (size_t k = 1; k < f.size(); ++k) EXPECT_GE(f[k], f[k - 1]);  // a profile never falls
}

TEST(PerformanceProfile, BadInput) {
  EXPECT_THROW(performance_ratios({{1, 2}, {1}}), Error);
  EXPECT_THROW(performance_profile({{1, 2}}, 1.0), Error);
  EXPECT_TRUE(performance_profile({}, 2.0).fraction.empty());
}

}  // namespace
}  // namespace ember::compare
