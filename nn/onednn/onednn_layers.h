// The computations of the oneDNN layers (internal to nn/onednn/), with LayerBackend's
// argument conventions (nn/layer_backend.h). Each returns false, having touched nothing,
// where oneDNN has no implementation for the call on this CPU (the dtype or the shape); the
// backend (onednn_layer_backend.h) then hands it to the reference layers.
#pragma once

#include "nn/layer_backend.h"

namespace ember::nn::onednn {

bool conv2d_forward(const Conv2dGeometry& g, const Tensor& out, const Tensor& in, const Tensor& weight,
                    const Tensor& bias);
// Both passes in one call: grad_out is reordered once when they take the same layout.
bool conv2d_backward(const Conv2dGeometry& g, const Conv2dBackwardArgs& a);

// Note [small-map backward weights] (onednn_conv_small_map.cpp): the weight gradient of a
// convolution with an output map of at most 4 pixels and a kernel of at most 9 taps, one
// matmul per tap; false, having touched nothing, where oneDNN has no optimised matmul for one
// of its products (the dtype on this CPU, or a shape).
bool small_output_map(const Conv2dGeometry& g);
bool conv2d_backward_weights_small_map(const Conv2dGeometry& g, const Tensor& grad_weight, const Tensor& grad_out,
                                       const Tensor& input);

size_t conv_plan_count();
size_t small_map_plan_count();
int64_t small_map_weight_calls();  // successful conv2d_backward_weights_small_map calls

}  // namespace ember::nn::onednn
