// Argument checks shared by the layer ops (internal to nn/).
#pragma once

#include "core/ops.h"
#include "core/tensor.h"

namespace ember::nn {

// A defined floating-point (float32, float64, bfloat16) tensor of 4 dims (NCHW).
inline void check_floating_4d(const Tensor& t, const char* op, const char* what) {
  EMBER_CHECK(t.defined(), "{}: {} is undefined", op, what);
  EMBER_CHECK(is_floating(t.dtype()), "{}: {} must be floating-point, got {}", op, what, dtype_name(t.dtype()));
  EMBER_CHECK(t.dim() == 4, "{}: {} must be 4-D [N, C, H, W], got shape {}", op, what, shape_str(t.sizes()));
}

// A per-channel tensor [channels] on x's device and of x's dtype, or float32 for a bfloat16
// x (mixed precision: statistics and affine parameters stay float32).
inline void check_channel_tensor(const Tensor& t, const Tensor& x, int64_t channels, const char* op,
                                 const char* what) {
  EMBER_CHECK(t.defined(), "{}: {} is undefined", op, what);
  check_same_device(x, t, op);
  if (x.dtype() == DType::BFloat16)
    EMBER_CHECK(t.dtype() == DType::Float32, "{}: {} must be float32 for a bfloat16 input (mixed precision), got {}", op,
                what, dtype_name(t.dtype()));
  else
    check_same_dtype(x, t, op);
  EMBER_CHECK(t.dim() == 1 && t.size(0) == channels, "{}: {} has shape {}, expected [{}] for an input of shape {}", op,
              what, shape_str(t.sizes()), channels, shape_str(x.sizes()));
}

// Note [channels_last] (core/ops/view_ops.cpp) in the layers: the CUDA layers keep an NHWC
// input NHWC (cuDNN and ember's kernels take either layout); the CPU layers work in NCHW.
inline bool keeps_nhwc(const Tensor& t) { return t.device().is_cuda() && is_nhwc(t); }
// The layer's working copy of an activation: NHWC kept where the device takes it, else NCHW.
inline Tensor layer_input(const Tensor& t) { return keeps_nhwc(t) ? t : t.contiguous(); }

}  // namespace ember::nn
