// The per-image and per-pixel rules of CIFAR-10 augmentation and normalisation, shared by the
// CPU batch loop (data/augment.cpp) and the CUDA batch kernel (kernels/augment.cu): one
// definition, so both devices produce bit-identical batches for the same seed, epoch and
// batch (DESIGN decision 3).
//
// Layout: an image is 3072 bytes, channel-major (CHW): 1024 R, 1024 G, 1024 B, each plane
// row-major 32x32, exactly as stored in the CIFAR-10 binary files.
//
// "standard" augmentation is torchvision's RandomCrop(32, padding=4) followed by
// RandomHorizontalFlip(0.5): the image is padded by 4 zero pixels on every side (40x40), a
// 32x32 window at offset (dy, dx) in [0, 8]^2 is cut out, and the window is mirrored left to
// right with probability 1/2. Normalisation is then (pixel / 255 - mean[c]) / std[c]
// (ToTensor + Normalize), so the zero padding becomes -mean[c] / std[c] as in torchvision.
//
// Note [data random streams]
// Everything random in the data pipeline comes from Philox4x32-10 (kernels/philox.h) keyed by
// the 64-bit loader seed (k0 = low word, k1 = high word), with the full 128-bit counter laid
// out as {w0, w1, w2, w3} = {index low, index high, epoch, kDataStreamTag | kind}:
//   kind 1 (kStreamShuffle):  the Fisher-Yates step for slot i of epoch e's order uses the
//                             counter {i, 0, e, tag|1}; words 0-1 form one 64-bit number.
//   kind 2 (kStreamAugment):  the sample at position p of epoch e's order (p counts from the
//                             epoch's first batch) uses {p, 0, e, tag|2}: word 0 gives the
//                             crop row offset, word 1 the column offset, the top bit of word
//                             2 the flip.
//   kinds 3-4 (kStreamSynthetic*): the synthetic data generator (data/synthetic.cpp).
// Core's random ops leave words 2 and 3 at zero (Note [random streams]), and the tag makes
// word 3 non-zero here, so the data streams never reuse a counter of the tensor RNG even for
// the same seed. Because a sample's draw depends only on (seed, epoch, position), a batch is
// the same whichever device makes it and whether or not it was prefetched.
#pragma once

#include <cstdint>

#include "kernels/hd.h"
#include "kernels/philox.h"

namespace ember::kernels {

constexpr int kImageChannels = 3;
constexpr int kImageSide = 32;
constexpr int kImagePlane = kImageSide * kImageSide;       // 1024
constexpr int kImageBytes = kImageChannels * kImagePlane;  // 3072
constexpr int kCropPadding = 4;                            // torchvision's CIFAR recipe
constexpr int kNormalizeTableSize = kImageChannels * 256;  // one float per (channel, byte)

constexpr uint32_t kDataStreamTag = 0xDA7A0000u;
enum DataStream : uint32_t {
  kStreamShuffle = 1,
  kStreamAugment = 2,
  kStreamSyntheticParams = 3,
  kStreamSyntheticNoise = 4,
};

// The Philox words of `index` in data stream `kind` of `epoch` (Note [data random streams]).
EMBER_HD PhiloxWords data_stream_words(uint64_t seed, uint32_t kind, uint32_t epoch, uint64_t index) {
  PhiloxWords ctr = {{static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), epoch, kDataStreamTag | kind}};
  return philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// floor(word * n / 2^32): a value in [0, n) from one random word, without division (bias
// below n / 2^32, i.e. 2e-9 for the 9 crop offsets).
EMBER_HD uint32_t bounded_word(uint32_t word, uint32_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(word) * n) >> 32);
}

struct AugmentParams {
  uint64_t seed = 0;
  uint32_t epoch = 0;
  bool crop = false;  // random 32x32 crop of the image padded by kCropPadding
  bool flip = false;  // random horizontal flip
};

// Where one sample's output window comes from: the offset (dy, dx) of the 32x32 window in the
// padded 40x40 image, each in [0, 2 * kCropPadding], and whether it is mirrored. No
// augmentation is the centred window (kCropPadding, kCropPadding), not mirrored.
struct AugmentDraw {
  int dy = kCropPadding;
  int dx = kCropPadding;
  bool flip = false;
};

EMBER_HD AugmentDraw augment_draw(const AugmentParams& p, int64_t position) {
  AugmentDraw d;
  if (!p.crop && !p.flip) return d;
  const PhiloxWords r = data_stream_words(p.seed, kStreamAugment, p.epoch, static_cast<uint64_t>(position));
  if (p.crop) {
    d.dy = static_cast<int>(bounded_word(r.w[0], 2 * kCropPadding + 1));
    d.dx = static_cast<int>(bounded_word(r.w[1], 2 * kCropPadding + 1));
  }
  if (p.flip) d.flip = (r.w[2] >> 31) != 0;
  return d;
}

// Byte index (into one CHW image) of output pixel (c, y, x), or -1 where it falls on the
// zero padding. The flip mirrors the output window, so output column x shows window column
// 31 - x.
EMBER_HD int augment_source(const AugmentDraw& d, int c, int y, int x) {
  const int wx = d.flip ? kImageSide - 1 - x : x;
  const int sy = y + d.dy - kCropPadding, sx = wx + d.dx - kCropPadding;
  if (sy < 0 || sy >= kImageSide || sx < 0 || sx >= kImageSide) return -1;
  return c * kImagePlane + sy * kImageSide + sx;
}

// Normalised output value of pixel (c, y, x). `table` holds kNormalizeTableSize floats:
// table[c * 256 + v] is the normalised value of byte v in channel c (a padding pixel is
// byte 0), precomputed in double and rounded once (fill_normalize_table), so both devices
// return the same float without depending on FMA contraction.
EMBER_HD float augment_pixel(const uint8_t* image, const float* table, const AugmentDraw& d, int c, int y, int x) {
  const int src = augment_source(d, c, y, x);
  const int byte = src < 0 ? 0 : image[src];
  return table[c * 256 + byte];
}

// One batch for the batch executors (the CPU loop in data/augment.cpp, the CUDA kernel in
// kernels/augment.cu): raw pointers on the executing device.
struct AugmentBatchArgs {
  const uint8_t* images = nullptr;  // [n, 3, 32, 32] CHW bytes, the whole data set
  const int64_t* labels = nullptr;  // [n]
  const int64_t* order = nullptr;   // the epoch's order: order[p] is the data set index at position p
  int64_t first = 0;                // position of the batch's first sample in the order
  int64_t count = 0;                // samples in the batch
  const float* table = nullptr;     // kNormalizeTableSize floats (fill_normalize_table)
  AugmentParams params;
  float* out_images = nullptr;    // [count, 3, 32, 32], 16-byte aligned
  int64_t* out_labels = nullptr;  // [count]
};

// (v / 255 - mean) / std in double, rounded once to float: the reference value of each entry.
inline float normalize_byte(int v, double mean, double std) {
  return static_cast<float>((static_cast<double>(v) / 255.0 - mean) / std);
}

inline void fill_normalize_table(float* table, const double mean[kImageChannels], const double std[kImageChannels]) {
  for (int c = 0; c < kImageChannels; ++c)
    for (int v = 0; v < 256; ++v) table[c * 256 + v] = normalize_byte(v, mean[c], std[c]);
}

}  // namespace ember::kernels
