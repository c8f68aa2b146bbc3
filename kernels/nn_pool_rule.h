// Max pooling's per-output rule and window arithmetic, shared by the CPU loops
// (nn/cpu/pooling_cpu.cpp) and the CUDA kernels (kernels/nn_pool.cu).
//
// Layout: NCHW, one input plane [in_h, in_w] per (n, c). Floor mode, dilation 1, padding at
// most half the kernel (so no window is empty). The rule follows torch's max_pool2d kernel
// (aten/src/ATen/native/cpu/MaxPoolKernel.cpp): scan the clipped window row-major, take a
// value when it is greater than the best so far or NaN; the index is h * in_w + w within the
// plane, starting at the window's first element.
#pragma once

#include <cstdint>

#include "kernels/bfloat16.h"
#include "kernels/hd.h"

namespace ember::kernels {

struct Pool2dParams {
  int64_t in_h, in_w, out_h, out_w;
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
};

EMBER_HD int64_t pool_min(int64_t a, int64_t b) { return a < b ? a : b; }
EMBER_HD int64_t pool_max(int64_t a, int64_t b) { return a > b ? a : b; }

// The clipped window of output o along one axis: inputs [*begin, *end).
EMBER_HD void pool_window(int64_t o, int64_t kernel, int64_t stride, int64_t pad, int64_t in_size, int64_t* begin,
                          int64_t* end) {
  const int64_t start = o * stride - pad;
  *begin = pool_max(start, 0);
  *end = pool_min(start + kernel, in_size);
}

// The maximum over rows [h_begin, h_end) and columns [w_begin, w_end) of one plane (a clipped
// window, never empty) and its index within the plane.
template <class T>
EMBER_HD void max_pool_window(const T* plane, int64_t in_w, int64_t h_begin, int64_t h_end, int64_t w_begin,
                              int64_t w_end, T* value, int32_t* index) {
  int64_t best_index = h_begin * in_w + w_begin;
  T best = plane[best_index];
  for (int64_t h = h_begin; h < h_end; ++h) {
    for (int64_t w = w_begin; w < w_end; ++w) {
      const T v = plane[h * in_w + w];
      if (v > best || v != v) {  // v != v: NaN wins, as in torch
        best = v;
        best_index = h * in_w + w;
      }
    }
  }
  *value = best;
  *index = static_cast<int32_t>(best_index);
}

// The maximum of output (oh, ow) of one plane and its index within the plane.
template <class T>
EMBER_HD void max_pool_output(const T* plane, const Pool2dParams& p, int64_t oh, int64_t ow, T* value,
                              int32_t* index) {
  int64_t h_begin, h_end, w_begin, w_end;
  pool_window(oh, p.kernel_h, p.stride_h, p.pad_h, p.in_h, &h_begin, &h_end);
  pool_window(ow, p.kernel_w, p.stride_w, p.pad_w, p.in_w, &w_begin, &w_end);
  max_pool_window(plane, p.in_w, h_begin, h_end, w_begin, w_end, value, index);
}

// The outputs [*first, *end) along one axis whose windows contain input position i (the
// gather form of the backward: each input sums the gradients of the windows that chose it).
EMBER_HD void pool_covering_outputs(int64_t i, int64_t kernel, int64_t stride, int64_t pad, int64_t out_size,
                                    int64_t* first, int64_t* end) {
  // Output o covers i when o*stride - pad <= i <= o*stride - pad + kernel - 1.
  const int64_t lo = i + pad - kernel + 1;
  *first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
  *end = pool_min((i + pad) / stride + 1, out_size);
  if (*end < *first) *end = *first;
}

// The sum of grad_out over outputs [oh0, oh1) x [ow0, ow1) of one plane whose maximum was
// input `me` (the windows that cover it), in the accumulator type, rounded once.
template <class T>
EMBER_HD T max_pool_gathered_grad(const T* grad_out_plane, const int32_t* index_plane, int64_t out_w, int32_t me,
                                  int64_t oh0, int64_t oh1, int64_t ow0, int64_t ow1) {
  accumulator_t<T> total = 0;
  for (int64_t oh = oh0; oh < oh1; ++oh)
    for (int64_t ow = ow0; ow < ow1; ++ow)
      if (index_plane[oh * out_w + ow] == me) total += grad_out_plane[oh * out_w + ow];
  return T(total);
}

// Gradient of input (ih, iw) of one plane: the sum of grad_out over the covering windows
// whose maximum was at this input.
template <class T>
EMBER_HD T max_pool_input_grad(const T* grad_out_plane, const int32_t* index_plane, const Pool2dParams& p, int64_t ih,
                               int64_t iw) {
  int64_t oh0, oh1, ow0, ow1;
  pool_covering_outputs(ih, p.kernel_h, p.stride_h, p.pad_h, p.out_h, &oh0, &oh1);
  pool_covering_outputs(iw, p.kernel_w, p.stride_w, p.pad_w, p.out_w, &ow0, &ow1);
  const int32_t me = static_cast<int32_t>(ih * p.in_w + iw);
  return max_pool_gathered_grad(grad_out_plane, index_plane, p.out_w, me, oh0, oh1, ow0, ow1);
}

}  // namespace ember::kernels
