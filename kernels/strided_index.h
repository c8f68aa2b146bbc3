// Strided index math shared by the CPU loops and the CUDA kernels.
//
// N operands are walked over one iteration shape in row-major order; operand k's element
// for linear index i lives at sum_d idx_d(i) * strides[k][d] (in elements). Broadcast
// operands have stride 0 on the broadcast dims. The host collapses adjacent dims before
// building a layout, so most layouts have 1-3 dims.
#pragma once

#include <cstdint>

#include "kernels/hd.h"

namespace ember::kernels {

constexpr int kMaxDims = 8;

template <int N>
struct StridedLayout {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
};

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

}  // namespace ember::kernels
