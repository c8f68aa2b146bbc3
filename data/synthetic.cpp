#include "data/synthetic.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/error.h"
#include "core/parallel.h"
#include "kernels/augment_rule.h"

namespace ember::data {

namespace {

using kernels::kImageChannels;
using kernels::kImagePlane;
using kernels::kImageSide;

constexpr double kPi = 3.14159265358979323846;
constexpr int kParamCounters = 4;       // Philox counters of per-image parameters: 16 words
constexpr double kNoiseAmplitude = 24;  // triangular noise in [-24, 24]: std about 10 grey levels

// Colour axes the stripes swing along, one per class (normalised when used).
constexpr double kAxes[kNumClasses][3] = {{1, 0, 0}, {0, 1, 0},  {0, 0, 1},  {1, 1, 0},  {0, 1, 1},
                                          {1, 0, 1}, {1, -1, 0}, {0, 1, -1}, {1, 0, -1}, {1, 1, 1}};

// The 16 uniform [0, 1) numbers that fix one image's layout.
class ParamDraws {
 public:
  ParamDraws(uint64_t seed, SyntheticSplit split, int64_t index) {
    for (int k = 0; k < kParamCounters; ++k) {
      const auto r = kernels::data_stream_words(seed, kernels::kStreamSyntheticParams, static_cast<uint32_t>(split),
                                                static_cast<uint64_t>(index) * kParamCounters + k);
      for (int w = 0; w < 4; ++w) u_[4 * k + w] = kernels::uniform_from_word(r.w[w]);
    }
  }
  // The next number mapped to [low, high).
  double next(double low, double high) { return low + (high - low) * u_[used_++]; }

 private:
  std::array<double, 4 * kParamCounters> u_{};
  int used_ = 0;
};

}  // namespace

void synthetic_image(uint64_t seed, SyntheticSplit split, int64_t index, int label, uint8_t* out) {
  EMBER_CHECK(label >= 0 && label < kNumClasses, "synthetic_image: label {} outside 0-9", label);
  ParamDraws p(seed, split, index);
  // Class cues, each jittered per image.
  const double angle = (label % 5) * kPi / 5 + p.next(-1, 1) * kPi / 36;    // +-5 degrees
  const double period = (label < 5 ? 4.0 : 7.5) * (1 + p.next(-0.1, 0.1));  // pixels
  double axis[3], norm = 0;
  for (int c = 0; c < 3; ++c) {
    axis[c] = kAxes[label][c] + p.next(-0.15, 0.15);
    norm += axis[c] * axis[c];
  }
  for (double& a : axis) a /= std::sqrt(norm);
  // Per-image nuisance.
  const double phase = p.next(0, 2 * kPi), amplitude = p.next(45, 75);
  const double cx = p.next(6, 26), cy = p.next(6, 26), radius = p.next(8, 14);
  double disc[3], background[3];
  for (int c = 0; c < 3; ++c) disc[c] = p.next(70, 185);
  for (int c = 0; c < 3; ++c) background[c] = p.next(30, 225);

  // sin(kx x + ky y + phase) = sin(a_x) cos(b_y) + cos(a_x) sin(b_y): 128 sin/cos per image.
  const double kx = 2 * kPi * std::cos(angle) / period, ky = 2 * kPi * std::sin(angle) / period;
  std::array<double, kImageSide> sin_x, cos_x, sin_y, cos_y;
  for (int i = 0; i < kImageSide; ++i) {
    sin_x[i] = std::sin(kx * i + phase), cos_x[i] = std::cos(kx * i + phase);
    sin_y[i] = std::sin(ky * i), cos_y[i] = std::cos(ky * i);
  }
  for (int y = 0; y < kImageSide; ++y) {
    for (int x = 0; x < kImageSide; x += 4) {
      // One Philox counter per 4 pixels of a row: 256 counters per channel plane.
      for (int c = 0; c < kImageChannels; ++c) {
        const int64_t quad = (c * kImagePlane + y * kImageSide + x) / 4;
        const auto r = kernels::data_stream_words(seed, kernels::kStreamSyntheticNoise, static_cast<uint32_t>(split),
                                                  static_cast<uint64_t>(index) * (kernels::kImageBytes / 4) + quad);
        for (int k = 0; k < 4; ++k) {
          const int xx = x + k;
          const double stripes = sin_x[xx] * cos_y[y] + cos_x[xx] * sin_y[y];
          const double dist = std::hypot(xx - cx, y - cy);
          const double inside = std::clamp(radius - dist + 0.5, 0.0, 1.0);             // 1-pixel soft edge
          const double noise = ((r.w[k] & 0xFFFFu) + (r.w[k] >> 16)) / 65535.0 - 1.0;  // triangular [-1, 1]
          const double v = inside * (disc[c] + amplitude * stripes * axis[c]) + (1 - inside) * background[c] +
                           kNoiseAmplitude * noise;
          out[c * kImagePlane + y * kImageSide + xx] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
        }
      }
    }
  }
}

Dataset make_synthetic_split(int64_t n, uint64_t seed, SyntheticSplit split) {
  EMBER_CHECK(n >= 0, "synthetic data: negative image count {}", n);
  Dataset d = empty_dataset(n);
  auto* images = d.images.data<uint8_t>();
  auto* labels = d.labels.data<int64_t>();
  const int threads = num_threads();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) {
    labels[i] = i % kNumClasses;
    synthetic_image(seed, split, i, static_cast<int>(labels[i]), images + i * kernels::kImageBytes);
  }
  return d;
}

DataSplits make_synthetic(int64_t n_train, int64_t n_test, uint64_t seed) {
  DataSplits s;
  s.train = make_synthetic_split(n_train, seed, SyntheticSplit::Train);
  s.test = make_synthetic_split(n_test, seed, SyntheticSplit::Test);
  s.description = fmt::format("synthetic CIFAR-format data (seed {}): {} train, {} test images", seed, n_train, n_test);
  return s;
}

}  // namespace ember::data
