// The augmentation and normalisation rules (kernels/augment_rule.h) against an independent
// transcription (pad into a 40x40 array, cut the window, mirror it), their random draws, and
// the CPU batch executor with its argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "data/augment.h"
#include "tests/data/data_test_util.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using kernels::AugmentDraw;
using testing::throws_with;

constexpr int kPad = 4, kSide = 32, kPadded = kSide + 2 * kPad;

std::vector<uint8_t> random_image(uint32_t seed) {
  std::vector<uint8_t> img(kernels::kImageBytes);
  for (int i = 0; i < kernels::kImageBytes; ++i)
    img[i] = static_cast<uint8_t>(kernels::philox4x32_10(seed, static_cast<uint64_t>(i)).w[0] % 255 + 1);  // never 0
  return img;
}

// torchvision's recipe written out: pad with zeros to 40x40, take the 32x32 window at
// (dy, dx), mirror it left-right when flip. Returns the window's bytes (CHW).
std::vector<uint8_t> reference_crop_flip(const std::vector<uint8_t>& img, int dy, int dx, bool flip) {
  std::vector<uint8_t> padded(3 * kPadded * kPadded, 0), out(kernels::kImageBytes);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < kSide; ++y)
      for (int x = 0; x < kSide; ++x)
        padded[(c * kPadded + y + kPad) * kPadded + x + kPad] = img[(c * kSide + y) * kSide + x];
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < kSide; ++y)
      for (int x = 0; x < kSide; ++x) {
        const int wx = flip ? kSide - 1 - x : x;
        out[(c * kSide + y) * kSide + x] = padded[(c * kPadded + y + dy) * kPadded + wx + dx];
      }
  return out;
}

// The rule's window as bytes (padding = 0).
std::vector<uint8_t> rule_crop_flip(const std::vector<uint8_t>& img, const AugmentDraw& d) {
  std::vector<uint8_t> out(kernels::kImageBytes);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < kSide; ++y)
      for (int x = 0; x < kSide; ++x) {
        const int src = kernels::augment_source(d, c, y, x);
        out[(c * kSide + y) * kSide + x] = src < 0 ? 0 : img[src];
      }
  return out;
}

TEST(AugmentRule, WindowMatchesPadCropFlipForEveryDraw) {
  const auto img = random_image(1);
  for (int dy = 0; dy <= 2 * kPad; ++dy)
    for (int dx = 0; dx <= 2 * kPad; ++dx)
      for (bool flip : {false, true}) {
        AugmentDraw d;
        d.dy = dy, d.dx = dx, d.flip = flip;
        ASSERT_EQ(rule_crop_flip(img, d), reference_crop_flip(img, dy, dx, flip)) << dy << "," << dx << "," << flip;
      }
}

TEST(AugmentRule, ValuesComeFromTheImageOrThePadding) {
  const auto img = random_image(2);  // no zero bytes, so a 0 can only be padding
  AugmentDraw d;
  d.dy = 0, d.dx = 8, d.flip = true;
  const auto out = rule_crop_flip(img, d);
  const std::multiset<uint8_t> pool(img.begin(), img.end());
  int padding = 0;
  for (uint8_t v : out) {
    if (v == 0)
      ++padding;
    else
      EXPECT_TRUE(pool.count(v) > 0);
  }
  // Window rows 0-3 and (before the flip) columns 36-39 lie on the padding: 4*32 + 28*4 per channel.
  EXPECT_EQ(padding, 3 * (4 * 32 + 28 * 4));
}

TEST(AugmentRule, NoAugmentationIsTheIdentityAndFlipTwiceIsToo) {
  const auto img = random_image(3);
  EXPECT_EQ(rule_crop_flip(img, AugmentDraw{}), img);
  AugmentDraw flip;
  flip.flip = true;
  const auto once = rule_crop_flip(img, flip);
  EXPECT_NE(once, img);
  EXPECT_EQ(rule_crop_flip(once, flip), img);
}

TEST(AugmentRule, DrawsCoverEveryOffsetAndBothFlips) {
  kernels::AugmentParams p = data::augment_params(data::Augment::Standard, 42, 3);
  std::vector<int> counts(81 * 2, 0);
  const int draws = 16200;  // 100 per (dy, dx, flip) cell
  for (int i = 0; i < draws; ++i) {
    const AugmentDraw d = kernels::augment_draw(p, i);
    ASSERT_TRUE(d.dy >= 0 && d.dy <= 8 && d.dx >= 0 && d.dx <= 8);
    counts[(d.dy * 9 + d.dx) * 2 + d.flip]++;
  }
  // Each cell is Binomial(16200, 1/162): mean 100, sd 10; 5 sd either way.
  for (int c = 0; c < 162; ++c) EXPECT_TRUE(counts[c] > 50 && counts[c] < 150) << "cell " << c << ": " << counts[c];
  // A draw depends on (seed, epoch, position) only.
  const AugmentDraw a = kernels::augment_draw(p, 7), b = kernels::augment_draw(p, 7);
  EXPECT_TRUE(a.dy == b.dy && a.dx == b.dx && a.flip == b.flip);
  int same = 0;
  kernels::AugmentParams q = p;
  q.epoch = 4;
  for (int i = 0; i < 200; ++i) {
    const AugmentDraw x = kernels::augment_draw(p, i), y = kernels::augment_draw(q, i);
    same += x.dy == y.dy && x.dx == y.dx && x.flip == y.flip;
  }
  EXPECT_LT(same, 10);  // 1/162 chance each: about 1 of 200
  // No augmentation draws nothing.
  const AugmentDraw none = kernels::augment_draw(data::augment_params(data::Augment::None, 42, 3), 5);
  EXPECT_TRUE(none.dy == 4 && none.dx == 4 && !none.flip);
}

TEST(Normalize, TableIsExact) {
  // Golden values: half maps 0 -> -1, 255 -> 1, 51 -> -0.6; cifar's padding is -mean/std.
  Tensor half = data::normalize_table(data::Normalization::half(), Device::cpu());
  const auto h = half.to_vector<float>();
  EXPECT_EQ(h[0], -1.0f);
  EXPECT_EQ(h[255], 1.0f);
  EXPECT_EQ(h[256 + 51], -0.6f);
  EXPECT_EQ(h[512 + 102], -0.2f);
  const auto c = data::normalize_table(data::Normalization::cifar(), Device::cpu()).to_vector<float>();
  EXPECT_EQ(c[0], static_cast<float>(-0.4914 / 0.2470));
  EXPECT_EQ(c[256], static_cast<float>(-0.4822 / 0.2435));
  EXPECT_EQ(c[512 + 255], static_cast<float>((1 - 0.4465) / 0.2616));
}

TEST(Normalize, Parsing) {
  const data::Normalization n = data::parse_normalization("0.1,0.2,0.3/1,2,4");
  EXPECT_EQ(n.mean, (std::array<double, 3>{0.1, 0.2, 0.3}));
  EXPECT_EQ(n.std, (std::array<double, 3>{1, 2, 4}));
  EXPECT_EQ(data::parse_normalization("cifar").std[2], 0.2616);
  EXPECT_EQ(data::parse_normalization("half").mean[0], 0.5);
  for (const char* bad : {"", "full", "0.1,0.2/1,2,3", "0.1,0.2,0.3/1,0,1", "1,2,3", "a,b,c/1,1,1", "1,1,1/1,1,1/1"})
    EXPECT_TRUE(throws_with<UsageError>([&] { data::parse_normalization(bad); }, {"bad normalisation"})) << bad;
  EXPECT_EQ(data::parse_augment("standard"), data::Augment::Standard);
  EXPECT_EQ(data::parse_augment("none"), data::Augment::None);
  EXPECT_TRUE(throws_with<UsageError>([] { data::parse_augment("flip"); }, {"flip", "none or standard"}));
}

// A source over a patterned data set with order `order`.
data::BatchSource make_source(int64_t n, const std::vector<int64_t>& order, const data::Normalization& norm) {
  return {testing::patterned_dataset(n), from_vector(order, {static_cast<int64_t>(order.size())}),
          data::normalize_table(norm, Device::cpu())};
}

TEST(AugmentBatch, NoAugmentationIsGatherPlusNormalise) {
  const data::Normalization norm = data::parse_normalization("0.1,0.2,0.3/0.5,0.25,2");
  const data::BatchSource src = make_source(5, {3, 0, 4, 1, 2}, norm);
  Tensor images = empty({3, 3, 32, 32}), labels = empty({3}, DType::Int64);
  data::augment_batch(src, 1, 3, data::augment_params(data::Augment::None, 9, 0), images, labels);
  const auto px = src.data.images.to_vector<uint8_t>();
  const auto lb = src.data.labels.to_vector<int64_t>();
  const auto out = images.to_vector<float>();
  const int64_t picks[3] = {0, 4, 1};  // positions 1..3 of the order
  for (int b = 0; b < 3; ++b) {
    EXPECT_EQ(labels.to_vector<int64_t>()[b], lb[picks[b]]);
    for (int j = 0; j < kernels::kImageBytes; ++j) {
      const int c = j / 1024;
      const float want = static_cast<float>((px[picks[b] * 3072 + j] / 255.0 - norm.mean[c]) / norm.std[c]);
      ASSERT_EQ(out[b * 3072 + j], want) << "sample " << b << " byte " << j;
    }
  }
}

TEST(AugmentBatch, StandardAugmentationMatchesTheReference) {
  const data::BatchSource src = make_source(4, {2, 0, 3, 1}, data::Normalization::half());
  const kernels::AugmentParams p = data::augment_params(data::Augment::Standard, 5, 2);
  Tensor images = empty({4, 3, 32, 32}), labels = empty({4}, DType::Int64);
  data::augment_batch(src, 0, 4, p, images, labels);
  const auto px = src.data.images.to_vector<uint8_t>();
  const auto out = images.to_vector<float>();
  const int64_t order[4] = {2, 0, 3, 1};
  for (int b = 0; b < 4; ++b) {
    const AugmentDraw d = kernels::augment_draw(p, b);
    const std::vector<uint8_t> img(px.begin() + order[b] * 3072, px.begin() + (order[b] + 1) * 3072);
    const auto want = reference_crop_flip(img, d.dy, d.dx, d.flip);
    for (int j = 0; j < kernels::kImageBytes; ++j)
      ASSERT_EQ(out[b * 3072 + j], static_cast<float>((want[j] / 255.0 - 0.5) / 0.5))
          << "sample " << b << " byte " << j;
  }
}

TEST(AugmentBatch, ChecksItsArguments) {
  const data::BatchSource src = make_source(3, {0, 1, 2}, data::Normalization::half());
  const auto p = data::augment_params(data::Augment::None, 0, 0);
  Tensor images = empty({2, 3, 32, 32}), labels = empty({2}, DType::Int64);
  EXPECT_TRUE(
      throws_with<Error>([&] { data::augment_batch(src, 2, 2, p, images, labels); }, {"outside an order of 3"}));
  EXPECT_TRUE(throws_with<Error>([&] { data::augment_batch(src, 0, 3, p, images, labels); }, {"out_images"}));
  EXPECT_TRUE(throws_with<Error>([&] { data::augment_batch(src, 0, 2, p, images, empty({2})); }, {"out_labels"}));
  data::BatchSource bad = src;
  bad.order = from_vector<int64_t>({0, 3, 1}, {3});
  EXPECT_TRUE(throws_with<Error>([&] { data::augment_batch(bad, 0, 2, p, images, labels); }, {"order[1] = 3"}));
  EXPECT_TRUE(throws_with<Error>([] { data::augment_params(data::Augment::None, 0, -1); }, {"epoch -1"}));
  data::augment_batch(src, 3, 0, p, empty({0, 3, 32, 32}), empty({0}, DType::Int64));  // empty batch: fine
}

}  // namespace
}  // namespace ember
