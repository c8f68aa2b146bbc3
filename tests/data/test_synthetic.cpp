// Synthetic data: deterministic per seed, balanced, and the property that matters for a
// stand-in of CIFAR-10: classes cannot be told apart from one pixel, but can from local
// structure (a hand-made texture feature and a nearest-centroid rule stand in for a ResNet).
#include <gtest/gtest.h>

#include <cmath>

#include "data/synthetic.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using data::Dataset;
using data::SyntheticSplit;

TEST(Synthetic, DeterministicPerSeedAndSplit) {
  const Dataset a = data::make_synthetic_split(40, 7, SyntheticSplit::Train);
  const Dataset b = data::make_synthetic_split(40, 7, SyntheticSplit::Train);
  EXPECT_EQ(a.images.sizes(), Shape({40, 3, 32, 32}));
  EXPECT_BIT_EQUAL(a.images, b.images);
  EXPECT_BIT_EQUAL(a.labels, b.labels);
  EXPECT_FALSE(testing::bit_equal(a.images, data::make_synthetic_split(40, 8, SyntheticSplit::Train).images));
  EXPECT_FALSE(testing::bit_equal(a.images, data::make_synthetic_split(40, 7, SyntheticSplit::Test).images));
  // Image i does not depend on how many are generated.
  uint8_t one[3072];
  data::synthetic_image(7, SyntheticSplit::Train, 33, 3, one);
  const auto px = a.images.select(0, 33).contiguous().to_vector<uint8_t>();
  EXPECT_EQ(std::vector<uint8_t>(one, one + 3072), px);
}

TEST(Synthetic, BalancedLabelsAndFullRangePixels) {
  const data::DataSplits s = data::make_synthetic(103, 20, 1);
  EXPECT_EQ(data::label_histogram(s.train), (std::vector<int64_t>{11, 11, 11, 10, 10, 10, 10, 10, 10, 10}));
  EXPECT_EQ(data::label_histogram(s.test), (std::vector<int64_t>(10, 2)));
  const auto px = s.train.images.to_vector<uint8_t>();
  int lo = 255, hi = 0;
  double mean = 0;
  for (uint8_t v : px) lo = std::min<int>(lo, v), hi = std::max<int>(hi, v), mean += v;
  mean /= static_cast<double>(px.size());
  EXPECT_LT(lo, 10);
  EXPECT_GT(hi, 245);
  EXPECT_NEAR(mean, 127.5, 10);  // mid-grey on average, like CIFAR's ~120
}

constexpr int kFeatures = 9;

// Colour-gradient covariance (6 entries over its trace: the colour axis), structure-tensor
// double angle (2: the orientation), log gradient energy over pixel variance (1: the period).
std::array<double, kFeatures> texture_features(const uint8_t* img) {
  double g[3][3] = {}, jxx = 0, jxy = 0, jyy = 0, sum[3] = {}, sum2[3] = {};
  for (int y = 0; y < 31; ++y)
    for (int x = 0; x < 31; ++x) {
      double gx[3], gy[3];
      for (int c = 0; c < 3; ++c) {
        const uint8_t* p = img + c * 1024 + y * 32 + x;
        gx[c] = double(p[1]) - p[0];
        gy[c] = double(p[32]) - p[0];
        jxx += gx[c] * gx[c], jxy += gx[c] * gy[c], jyy += gy[c] * gy[c];
        sum[c] += p[0], sum2[c] += double(p[0]) * p[0];
      }
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) g[a][b] += gx[a] * gx[b] + gy[a] * gy[b];
    }
  const double trace = g[0][0] + g[1][1] + g[2][2], n = 31 * 31;
  double variance = 0;
  for (int c = 0; c < 3; ++c) variance += sum2[c] / n - (sum[c] / n) * (sum[c] / n);
  return {g[0][0] / trace,           g[1][1] / trace,       g[2][2] / trace,
          g[0][1] / trace,           g[0][2] / trace,       g[1][2] / trace,
          (jxx - jyy) / (jxx + jyy), 2 * jxy / (jxx + jyy), std::log(trace / n / (variance + 1))};
}

// Accuracy on `test` of the nearest class centroid of `feature` fitted on `train`, each
// feature scaled by its spread on the train set.
template <size_t K, class F>
double nearest_centroid_accuracy(const Dataset& train, const Dataset& test, F feature) {
  auto run = [&](const Dataset& d, auto&& visit) {
    const auto px = d.images.to_vector<uint8_t>();
    const auto lb = d.labels.to_vector<int64_t>();
    for (int64_t i = 0; i < d.size(); ++i) visit(feature(px.data() + i * 3072), lb[i]);
  };
  double centroid[10][K] = {}, count[10] = {}, mean[K] = {}, sq[K] = {};
  run(train, [&](const std::array<double, K>& f, int64_t label) {
    count[label]++;
    for (size_t k = 0; k < K; ++k) centroid[label][k] += f[k], mean[k] += f[k], sq[k] += f[k] * f[k];
  });
  const double n = static_cast<double>(train.size());
  double scale[K];
  for (size_t k = 0; k < K; ++k) scale[k] = 1 / std::sqrt(sq[k] / n - (mean[k] / n) * (mean[k] / n) + 1e-12);
  for (int c = 0; c < 10; ++c)
    for (size_t k = 0; k < K; ++k) centroid[c][k] /= count[c];
  int64_t correct = 0;
  run(test, [&](const std::array<double, K>& f, int64_t label) {
    int best = 0;
    double best_d = 1e300;
    for (int c = 0; c < 10; ++c) {
      double dist = 0;
      for (size_t k = 0; k < K; ++k) dist += std::pow((f[k] - centroid[c][k]) * scale[k], 2);
      if (dist < best_d) best_d = dist, best = c;
    }
    correct += best == label;
  });
  return static_cast<double>(correct) / static_cast<double>(test.size());
}

TEST(Synthetic, OnePixelSaysLittleTextureSaysMuch) {
  const data::DataSplits s = data::make_synthetic(2000, 1000, 21);
  // One fixed pixel (the centre, all three channels).
  const auto pixel = [](const uint8_t* img) {
    return std::array<double, 3>{double(img[16 * 32 + 16]), double(img[1024 + 16 * 32 + 16]),
                                 double(img[2048 + 16 * 32 + 16])};
  };
  const double one_pixel = nearest_centroid_accuracy<3>(s.train, s.test, pixel);
  const double texture = nearest_centroid_accuracy<kFeatures>(s.train, s.test, texture_features);
  RecordProperty("one_pixel_accuracy", std::to_string(one_pixel));
  RecordProperty("texture_accuracy", std::to_string(texture));
  // Chance is 0.1; with 1000 test images its sd is 0.0095, so 0.16 is over 6 sd above chance.
  EXPECT_LT(one_pixel, 0.16) << "one pixel separates the classes too well";
  EXPECT_GT(texture, 0.8) << "the classes' textures are not distinct enough";

  // The class-conditional means of that pixel overlap heavily: every class mean lies within
  // a quarter of the within-class spread of the overall mean, in every channel.
  const auto px = s.train.images.to_vector<uint8_t>();
  const auto lb = s.train.labels.to_vector<int64_t>();
  for (int c = 0; c < 3; ++c) {
    double sum[10] = {}, sum2 = 0, n[10] = {}, total = 0;
    for (int64_t i = 0; i < s.train.size(); ++i) {
      const double v = px[i * 3072 + c * 1024 + 16 * 32 + 16];
      sum[lb[i]] += v, n[lb[i]]++, sum2 += v * v, total += v;
    }
    const double all_mean = total / 2000, spread = std::sqrt(sum2 / 2000 - all_mean * all_mean);
    for (int k = 0; k < 10; ++k)
      EXPECT_LT(std::fabs(sum[k] / n[k] - all_mean), 0.25 * spread) << "channel " << c << " class " << k;
  }
}

}  // namespace
}  // namespace ember
