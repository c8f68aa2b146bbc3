// Batch norm over contiguous NCHW float32 or bfloat16 CPU activations with float32 statistics
// and parameters, and an optional fused ReLU: the CPU twin of ember's CUDA batch-norm kernels
// (kernels/nn_batch_norm.cu), with their rules (kernels/nn_batch_norm_rule.h): one pass of
// shifted float sums, combined per channel in double.
//
// Why they exist beside oneDNN's: on plain NCHW, oneDNN 2.6 has only its generic batch norm
// (ncsp_bnorm), which in bfloat16 ran on widened float32 copies: a CIFAR-stem bfloat16 step
// spent about a fifth of its time there (ONEDNN_VERBOSE). These read and write the tensor's
// own type, each channel's values once for the statistics and once more for the output. The
// oneDNN layers route to them (nn/onednn/onednn_layer_backend.cpp); the reference layers keep
// double statistics (batch_norm_cpu.cpp) and are what these are tested against
// (tests/nn/test_batch_norm_kernels_cpu.cpp).
#pragma once

#include "nn/layer_backend.h"

namespace ember::nn::cpu {

// Whether these loops take a batch norm of `input`: a contiguous 4-d CPU tensor of float32 or
// bfloat16 (whose parameters and statistics are float32: nn/layer_checks.h).
bool batch_norm_kernels_take(const Tensor& input);

// As LayerBackend's (a.relu honoured: out = relu(batch norm)).
void batch_norm_kernels_forward_train(const BatchNormTrainArgs& a);
void batch_norm_kernels_forward_eval(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias,
                                     const Tensor& running_mean, const Tensor& running_var, double eps);
// With relu, the backward of the fused batch norm + ReLU (a.bias defined): dy masked where the
// recomputed output is not positive.
void batch_norm_kernels_backward(const BatchNormBackwardArgs& a, bool relu);

}  // namespace ember::nn::cpu
