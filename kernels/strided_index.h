// Strided index math shared by the CPU loops and the CUDA kernels.
//
// N operands are walked over one iteration shape in row-major order; operand k's element
// for linear index i lives at sum_d idx_d(i) * strides[k][d] (in elements). Broadcast
// operands have stride 0 on the broadcast dims. The host collapses adjacent dims before
// building a layout, so most layouts have 1-3 dims.
//
// Two forms of the same arithmetic: strided_offsets (64-bit, two 64-bit divisions per dim;
// the CPU loops and the kernels' fallback for tensors of 2^31 elements or more) and
// StridedIndex32 (32-bit, one multiply-shift division per dim, Note [multiply-shift
// division] in kernels/int_divider.h), which the kernels use whenever every index and every
// offset stays below 2^31 (fits_index32). tests/core/test_strided_index.cpp checks that both
// give the same offsets.
#pragma once

#include <cstdint>

#include "kernels/hd.h"
#include "kernels/int_divider.h"

namespace ember::kernels {

constexpr int kMaxDims = 8;

template <int N>
struct StridedLayout {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
};

// True when every operand is walked with stride 1 over one flat range.
template <int N>
bool is_flat(const StridedLayout<N>& layout) {
  if (layout.ndim == 0) return true;
  if (layout.ndim != 1) return false;
  for (int k = 0; k < N; ++k)
    if (layout.strides[k][0] != 1) return false;
  return true;
}

// Offsets (in elements) of every operand for linear index `linear` of the iteration shape.
template <int N>
EMBER_HD void strided_offsets(const StridedLayout<N>& layout, int64_t linear, int64_t (&offsets)[N]) {
  for (int k = 0; k < N; ++k) offsets[k] = 0;
  for (int d = layout.ndim - 1; d >= 0; --d) {
    const int64_t size = layout.sizes[d];
    const int64_t i = linear % size;
    linear /= size;
    for (int k = 0; k < N; ++k) offsets[k] += i * layout.strides[k][d];
  }
}

// strided_offsets as an index object (the kernels take either form through one template).
template <int N>
struct StridedIndex64 {
  StridedLayout<N> layout;
  EMBER_HD void offsets(int64_t linear, int64_t (&out)[N]) const { strided_offsets(layout, linear, out); }
};

// Whether n elements of `layout` can be walked with 32-bit indices: n and every operand's
// largest offset below 2^31, no negative stride.
template <int N>
bool fits_index32(const StridedLayout<N>& layout, int64_t n) {
  if (n > kMaxIndex32) return false;
  for (int k = 0; k < N; ++k) {
    int64_t last = 0;
    for (int d = 0; d < layout.ndim; ++d) {
      if (layout.strides[k][d] < 0 || layout.sizes[d] < 1) return false;
      last += (layout.sizes[d] - 1) * layout.strides[k][d];
      if (last > kMaxIndex32) return false;
    }
  }
  return true;
}

// The 32-bit form: a divider per dim, built on the host once per launch (fits_index32 true).
template <int N>
struct StridedIndex32 {
  int ndim = 0;
  IntDivider sizes[kMaxDims];
  uint32_t strides[N][kMaxDims] = {};

  StridedIndex32() = default;
  explicit StridedIndex32(const StridedLayout<N>& layout) : ndim(layout.ndim) {
    for (int d = 0; d < ndim; ++d) {
      sizes[d] = IntDivider(static_cast<uint32_t>(layout.sizes[d]));
      for (int k = 0; k < N; ++k) strides[k][d] = static_cast<uint32_t>(layout.strides[k][d]);
    }
  }

  EMBER_HD void offsets(uint32_t linear, uint32_t (&out)[N]) const {
    for (int k = 0; k < N; ++k) out[k] = 0;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (int d = kMaxDims - 1; d >= 0; --d) {  // unrolled with a constant trip count: stays in registers
      if (d >= ndim) continue;
      const DivMod qr = sizes[d].divmod(linear);
      linear = qr.div;
      for (int k = 0; k < N; ++k) out[k] += qr.mod * strides[k][d];
    }
  }
};

}  // namespace ember::kernels
