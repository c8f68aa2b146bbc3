// The differentiable layer ops of ember::nn (torch.nn.functional's counterparts). Each
// validates its arguments (errors name the shapes), computes through the LayerBackend of the
// input's device and, in grad mode, records one autograd Node whose backward calls the
// backend's backward. Activations are NCHW (or channels_last NHWC, Note [channels_last]),
// filters OIHW; float32 or float64, or bfloat16 (mixed precision: batch_norm then takes
// float32 weights and statistics, nn/resnet.h).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace ember::nn {

// A pair of spatial sizes (height, width); one number means both.
struct Size2 {
  int64_t h = 0, w = 0;
  Size2(int64_t both = 0) : h(both), w(both) {}  // NOLINT: implicit on purpose, like torch's int-or-tuple
  Size2(int64_t height, int64_t width) : h(height), w(width) {}
  friend bool operator==(Size2 a, Size2 b) { return a.h == b.h && a.w == b.w; }
};

struct Conv2dOptions {
  Size2 stride = 1, padding = 0;
};

// input [N, Cin, H, W], weight [Cout, Cin, kh, kw], bias [Cout] or undefined -> [N, Cout, Ho, Wo].
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options = {});

// Spatial batch normalisation of input [N, C, H, W] with weight and bias [C] (torch's
// F.batch_norm with affine parameters). In training mode the batch statistics normalise the
// input and, when running_mean/running_var are defined, update them in place:
//   running = (1 - momentum) * running + momentum * batch_statistic
// with the unbiased variance for running_var. In evaluation mode the running statistics
// normalise (they must be defined). Training mode needs more than one value per channel.
Tensor batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// relu(batch_norm(...)), as one pass forward and one backward where the device's backend
// fuses them (CUDA, bfloat16 or float32 NHWC activations, training:
// LayerBackend::fuses_batch_norm_relu); the same values as the two ops either way.
Tensor batch_norm_relu(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// input [N, C, H, W] -> [N, C, Ho, Wo]; floor mode, padding at most half the kernel.
struct MaxPool2dOptions {
  Size2 kernel = 1, stride = 1, padding = 0;
};
Tensor max_pool2d(const Tensor& input, const MaxPool2dOptions& options);

// input [N, C, H, W] -> [N, C, 1, 1]: the mean over each plane (AdaptiveAvgPool2d((1, 1))).
Tensor global_avg_pool2d(const Tensor& input);

// input [N, in], weight [out, in], bias [out] or undefined -> [N, out]: input @ weight^T + bias.
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias);

}  // namespace ember::nn
