// Builds the StridedLayout that the CPU loops and CUDA kernels walk (kernels/strided_index.h)
// from tensors of one shape, dropping size-1 dims, ordering the dims by the first operand's
// strides (outermost first; an elementwise op may visit elements in any order) and merging
// dims that are adjacent in memory for every operand, so a contiguous op - NCHW or NHWC
// (Note [channels_last] in core/ops/view_ops.cpp) alike - becomes a 1-d walk.
#pragma once

#include <algorithm>
#include <array>

#include "core/tensor.h"
#include "kernels/strided_index.h"

namespace ember {

template <int N>
kernels::StridedLayout<N> make_strided_layout(const std::array<const Tensor*, N>& operands) {
  const Shape& sizes = operands[0]->sizes();
  for (const Tensor* t : operands)
    EMBER_CHECK(t->sizes() == sizes, "internal: strided operands of shapes {} and {}", shape_str(t->sizes()),
                shape_str(sizes));
  // The dims of size > 1, outermost first by operand 0's strides (ties keep their order): an
  // NHWC output walks its memory in order. The permutation applies to every operand alike.
  int order[64];
  int nd = 0;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1) continue;
    EMBER_CHECK(nd < 64, "tensor with more than 64 dims");
    order[nd++] = static_cast<int>(d);
  }
  const Shape& out_strides = operands[0]->strides();
  std::stable_sort(order, order + nd, [&](int a, int b) { return out_strides[a] > out_strides[b]; });
  // Merge dim d into the dim before it when every operand steps over d contiguously.
  kernels::StridedLayout<N> layout;
  int out = 0;
  for (int i = 0; i < nd; ++i) {
    const int d = order[i];
    bool merge = out > 0;
    for (int k = 0; k < N && merge; ++k)
      merge = layout.strides[k][out - 1] == operands[k]->strides()[d] * sizes[d];
    if (merge) {
      layout.sizes[out - 1] *= sizes[d];
      for (int k = 0; k < N; ++k) layout.strides[k][out - 1] = operands[k]->strides()[d];
      continue;
    }
    EMBER_CHECK(out < kernels::kMaxDims, "elementwise op over {} non-mergeable dims (at most {})", nd,
                kernels::kMaxDims);
    layout.sizes[out] = sizes[d];
    for (int k = 0; k < N; ++k) layout.strides[k][out] = operands[k]->strides()[d];
    ++out;
  }
  layout.ndim = out;
  return layout;
}

using kernels::is_flat;  // true when every operand is walked with stride 1 over one flat range

}  // namespace ember
