// Batch normalisation over bfloat16 (or float) activations with float32 statistics and
// parameters: the index arithmetic and per-element rules shared by the CUDA kernels
// (kernels/nn_batch_norm.cu) and the CPU test that replays their algorithm
// (tests/nn/test_batch_norm_rule.cpp). The formulas are torch's (nn/cpu/batch_norm_cpu.cpp):
//   xhat = (x - mean) * invstd, y = xhat * w + b, invstd = 1 / sqrt(var_biased + eps)
//   dx = w * invstd * (dy - sum(dy) / M - xhat * sum(dy * xhat) / M),  M = N * H * W
//
// Statistics in one pass over the data, split into `splits` ranges of each channel's M values
// so that a layer with few channels still fills the GPU: each range gets the sums of (x - K)
// and (x - K)^2, with K the channel's first value (a shift that keeps the float sums of
// nearly-constant data from cancelling), and one thread per channel combines the partial
// sums in double. NCHW: one block per (range, channel), reading runs of H*W values. NHWC: one
// block per range of rows (pixels) for all channels, each thread owning channels, so that a
// warp reads consecutive channels of a row (coalesced) instead of values C apart.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/bfloat16.h"
#include "kernels/hd.h"
#include "kernels/int_divider.h"

namespace ember::kernels {

struct BnShape {
  int64_t batch = 0, channels = 0, plane = 0;  // plane = H * W
  bool nhwc = false;                           // stored channels_last: channel innermost
  EMBER_HD int64_t count() const { return batch * plane; }  // values per channel (M)
  EMBER_HD int64_t total() const { return batch * channels * plane; }
};

// Channel of the i-th element in memory (NCHW or NHWC).
EMBER_HD int64_t bn_channel_of(int64_t i, const BnShape& s) {
  return s.nhwc ? i % s.channels : (i / s.plane) % s.channels;
}

// Offset of the j-th value (j in [0, M)) of channel c: j = n * plane + p.
EMBER_HD int64_t bn_offset(int64_t j, int64_t c, const BnShape& s) {
  return s.nhwc ? j * s.channels + c : ((j / s.plane) * s.channels + c) * s.plane + j % s.plane;
}

// Note [batch-norm index paths]
// The kernels walk the elements in packs of `width` consecutive values in memory (16 bytes:
// 8 bfloat16 or 4 float32; or 1 value) that share a channel (NCHW: width divides H*W) or hold
// `width` consecutive channels (NHWC: width divides C), so a pack is one vector load and its
// channels come from one index computation. Index math is 32-bit with multiply-shift
// divisions (BnIndex32) when the tensor has fewer than 2^31 elements, else 64-bit
// (BnIndex64: bn_channel_of and bn_offset). tests/nn/test_batch_norm_index.cpp checks that
// both give the same channels and offsets, and that packs never straddle a channel.
struct BnIndex64 {
  BnShape s;
  EMBER_HD int64_t channel_of(int64_t i) const { return bn_channel_of(i, s); }
  EMBER_HD int64_t offset(int64_t j, int64_t c) const { return bn_offset(j, c, s); }
};

struct BnIndex32 {
  IntDivider plane, channels;
  bool nhwc = false;
  BnIndex32() = default;
  explicit BnIndex32(const BnShape& s)  // s.total() <= kMaxIndex32
      : plane(static_cast<uint32_t>(s.plane)), channels(static_cast<uint32_t>(s.channels)), nhwc(s.nhwc) {}
  EMBER_HD uint32_t channel_of(uint32_t i) const { return nhwc ? channels.mod(i) : channels.mod(plane.div(i)); }
  EMBER_HD uint32_t offset(uint32_t j, uint32_t c) const {
    if (nhwc) return j * channels.divisor() + c;
    const DivMod np = plane.divmod(j);  // j = n * plane + p
    return (np.div * channels.divisor() + c) * plane.divisor() + np.mod;
  }
};

// Values per pack for elements of `element_bytes` bytes: 16 bytes' worth when the layout's
// innermost run (H*W for NCHW, C for NHWC) is a multiple of it, else 1. The launcher also
// needs 16-byte aligned pointers for the vector width.
inline int bn_pack_width(const BnShape& s, int element_bytes) {
  const int64_t vector = 16 / element_bytes;
  const int64_t run = s.nhwc ? s.channels : s.plane;
  return run % vector == 0 ? static_cast<int>(vector) : 1;
}

// Ranges per channel: about two blocks per multiprocessor in all. NCHW (a block per range
// and channel): at least 1024 values per block, at most 64 ranges. NHWC (a block per range,
// all channels): at least 32 rows per block, at most 512 ranges.
inline int bn_splits(const BnShape& s, int multiprocessors) {
  const int64_t blocks = 2 * int64_t(multiprocessors);
  const int64_t want = s.nhwc ? blocks : (blocks + s.channels - 1) / s.channels;
  const int64_t most = s.nhwc ? (s.count() + 31) / 32 : (s.count() + 1023) / 1024;
  const int64_t cap = s.nhwc ? 512 : 64;
  const int64_t splits = want < most ? want : most;
  return static_cast<int>(splits < 1 ? 1 : (splits > cap ? cap : splits));
}

// NHWC blocks: how the threads of a block share the channels. With C <= threads, `groups`
// groups of C threads each take every groups-th row of the range (thread t: channel t % C,
// group t / C); with more channels than threads, one group, thread t taking channels t,
// t + threads, ...
struct BnNhwcLanes {
  int groups;    // row groups
  int channels;  // threads per group that own a channel (<= threads)
};
EMBER_HD BnNhwcLanes bn_nhwc_lanes(int64_t channels, int threads) {
  if (channels >= threads) return {1, threads};
  return {static_cast<int>(threads / channels), static_cast<int>(channels)};
}

// The values [begin, end) of channel c that block `split` of `splits` handles; with a pack
// width (which divides count), whole packs: begin and end are multiples of it.
EMBER_HD void bn_split_range(int64_t count, int split, int splits, int64_t* begin, int64_t* end, int width = 1) {
  const int64_t packs = count / width;
  const int64_t per = (packs + splits - 1) / splits;
  const int64_t first = per * split < packs ? per * split : packs;
  const int64_t last = first + per < packs ? first + per : packs;
  *begin = first * width;
  *end = last * width;
}

// Mean and biased variance from the partial sums of (x - shift) and (x - shift)^2.
EMBER_HD void bn_combine(double shifted_sum, double shifted_squares, double shift, int64_t count, double* mean,
                         double* var) {
  const double m = shifted_sum / double(count);
  *mean = shift + m;
  const double v = shifted_squares / double(count) - m * m;
  *var = v > 0 ? v : 0;
}

EMBER_HD float bn_invstd(double var, double eps) {
  using std::sqrt;  // the double overload, on the host as on the device
  return static_cast<float>(1.0 / sqrt(var + eps));
}

// torch's running-statistics update: momentum average, unbiased variance.
EMBER_HD void bn_update_running(float* running_mean, float* running_var, double mean, double var, int64_t count,
                                double momentum) {
  *running_mean = static_cast<float>((1 - momentum) * *running_mean + momentum * mean);
  *running_var =
      static_cast<float>((1 - momentum) * *running_var + momentum * var * double(count) / double(count - 1));
}

EMBER_HD float bn_normalize(float x, float mean, float invstd, float w, float b) {
  return (x - mean) * (invstd * w) + b;
}

// A ReLU fused after the batch norm (nn::batch_norm_relu), ember's relu and its backward:
// relu(z) = z < 0 ? 0 : z (NaN stays), and the gradient passes where the stored output is
// > 0. The backward recomputes z from x instead of reading the output: the stored output is
// T(relu(z)), which is > 0 exactly where T(z) > 0.
EMBER_HD float bn_relu(float z) { return z < 0.f ? 0.f : z; }
template <class T>
EMBER_HD float bn_relu_grad(float dy, float z) {
  return float(T(z)) > 0.f ? dy : 0.f;
}

// bn_relu_grad's test, float(T(z)) > 0, as one comparison (for the CPU kernels' vector lanes,
// nn/cpu/batch_norm_kernels_cpu.cpp): z > bn_relu_floor<T>(). For bfloat16 the floor is
// 2^-134, the largest float that rounds to +0 (a tie, to even): every larger float rounds to
// 2^-133, the smallest bfloat16, or more; NaN compares false either way. Checked against
// bn_relu_grad in tests/nn/test_batch_norm_rule.cpp.
template <class T>
EMBER_HD float bn_relu_floor() {
  return 0.f;
}
template <>
EMBER_HD float bn_relu_floor<bfloat16>() {
  return 0x1p-134f;
}

// The gradient a batch-norm backward works on: dy, or with a fused ReLU dy masked by the
// recomputed output.
template <class T>
EMBER_HD float bn_masked_grad(float dy, float x, float mean, float invstd, float w, float b, bool relu) {
  return relu ? bn_relu_grad<T>(dy, bn_normalize(x, mean, invstd, w, b)) : dy;
}

EMBER_HD float bn_input_grad(float dy, float x, float mean, float invstd, float w, float mean_dy, float mean_dy_xhat) {
  const float xhat = (x - mean) * invstd;
  return w * invstd * (dy - mean_dy - xhat * mean_dy_xhat);
}

}  // namespace ember::kernels
