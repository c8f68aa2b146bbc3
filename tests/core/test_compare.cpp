// The tests' own comparisons (tests/support/compare.h) fail when they should: a check that
// cannot fail would make every test built on it pass by construction. all_close: the bound
// |got - want| <= atol + rtol * |want| and NaN; gradients_agree (the whole-gradient check of
// the mixed-precision and GPU ResNet tests): a gradient off by a constant factor has cosine 1
// and must still fail on its norm.
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "core/ops.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using testing::all_close;
using testing::gradients_agree;

Tensor vec(const std::vector<double>& v) { return from_vector(v, {static_cast<int64_t>(v.size())}); }

// n values uniform in [-1, 1), float64.
Tensor uniform(int64_t n) { return rand({n}, DType::Float64) * 2.0 - 1.0; }

TEST(Compare, AllCloseHoldsAtTheBoundAndFailsPastItOrOnNaN) {
  const Tensor want = vec({1.0, -2.0, 0.0});
  EXPECT_TRUE(all_close(vec({1.5, -2.0, 0.25}), want, 0.25, 0.25));   // 0.5 <= 0.25 + 0.25 * 1
  EXPECT_FALSE(all_close(vec({1.5, -2.0, 0.25}), want, 0.25, 0.2));   // 0.5 > 0.25 + 0.2
  EXPECT_FALSE(all_close(vec({1.0, -2.0, 0.3}), want, 0.25, 0.25));   // |want| = 0: atol alone
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(all_close(vec({1.0, nan, 0.0}), want, 1e9, 1e9));
  EXPECT_FALSE(all_close(vec({1.0, -2.0}), want, 1e9, 1e9)) << "a different shape fails";
  EXPECT_TRUE(all_close(vec({nan}), vec({nan}), 0, 0, /*nan_equal=*/true));
  EXPECT_FALSE(all_close(vec({nan}), vec({nan}), 0, 0));
}

TEST(Compare, GradientsAgreeCatchesAConstantFactorThatTheCosineMisses) {
  const Tensor want = uniform(37);
  EXPECT_NEAR(testing::cosine_similarity(want * 2.0, want), 1.0, 1e-12);  // direction alone says "same"
  EXPECT_FALSE(gradients_agree(want * 2.0, want, 0.9, 0.25)) << "doubled";
  EXPECT_FALSE(gradients_agree(want * 0.5, want, 0.9, 0.25)) << "halved";
  EXPECT_TRUE(gradients_agree(want * 1.2, want, 0.9, 0.25)) << "within the norm bound";
  EXPECT_FALSE(gradients_agree(want * -1.0, want, 0.9, 0.25)) << "same norm, opposite direction";
}

TEST(Compare, GradientsAgreeTakesNoiseWithinItsBoundsOnly) {
  const Tensor want = uniform(1001);
  const Tensor noise = uniform(1001);
  // Noise of a tenth of the gradient's size: cosine about 0.995, norm within 1%.
  EXPECT_TRUE(gradients_agree(want + noise * 0.1, want, 0.99, 0.02));
  // Noise as large as the gradient: cosine about 0.7.
  EXPECT_FALSE(gradients_agree(want + noise, want, 0.9, 1.0));
}

TEST(Compare, GradientsAgreeOnZerosNaNAndMissingGradients) {
  const Tensor zero = zeros({5}), some = vec({0, 0, 1e-30, 0, 0});
  EXPECT_TRUE(gradients_agree(zero, zero, 0.9, 0.25)) << "both zero: the same vector";
  EXPECT_FALSE(gradients_agree(zero, some, 0.9, 0.25));
  EXPECT_FALSE(gradients_agree(some, zero, 0.9, 0.25));
  EXPECT_FALSE(gradients_agree(vec({1, std::numeric_limits<double>::quiet_NaN()}), vec({1, 1}), -1, 1e9));
  EXPECT_FALSE(gradients_agree(Tensor(), zero, 0.9, 0.25)) << "undefined";
}

}  // namespace
}  // namespace ember
