// Direct-loop reference implementations of the layers, in double precision, used only by
// tests as the oracle for the fast paths (im2col + GEMM on the CPU, cuDNN on CUDA). Written
// from the definitions (torch.nn.Conv2d's and MaxPool2d's documentation), deliberately
// naive: every output is a sum over the window, with no shared code with nn/.
// Inputs are CPU tensors of any floating dtype; results are float64 CPU tensors.
#pragma once

#include "core/tensor.h"
#include "nn/functional.h"

namespace ember::testing {

struct ConvGrads {
  Tensor input, weight, bias;
};

Tensor reference_conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, nn::Size2 stride,
                        nn::Size2 padding);
// Gradients of sum(conv2d(input, weight, bias) * grad_out) (bias grad only if bias is defined).
ConvGrads reference_conv2d_backward(const Tensor& input, const Tensor& weight, const Tensor& bias,
                                    const Tensor& grad_out, nn::Size2 stride, nn::Size2 padding);

// Max over each window (floor mode); NaN propagates.
Tensor reference_max_pool2d(const Tensor& input, nn::Size2 kernel, nn::Size2 stride, nn::Size2 padding);

// Batch norm with the batch's biased statistics (training mode's normalisation).
Tensor reference_batch_norm_train(const Tensor& input, const Tensor& weight, const Tensor& bias, double eps);

}  // namespace ember::testing
