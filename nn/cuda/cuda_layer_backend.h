// The CUDA layer backend: cuDNN convolutions with per-shape plans (nn/cuda/cudnn_conv.cpp),
// cuDNN spatial batch norm (cudnn_batch_norm.cpp), ember's pooling kernels
// (kernels/nn_pool.cu, launched from cuda_layer_backend.cpp). Everything is queued on
// ember's stream; nothing synchronises with the host and, once each convolution shape has
// been planned (its first call), nothing calls cudaMalloc: workspaces come from the
// caching allocator. So a warmed-up training step can be captured into a CUDA graph.
#pragma once

#include "nn/layer_backend.h"

namespace ember::nn {

class CudaLayerBackend final : public LayerBackend {
 public:
  void conv2d_forward(const Conv2dGeometry& g, const Tensor& out, const Tensor& in, const Tensor& weight,
                      const Tensor& bias) override;
  void conv2d_backward_input(const Conv2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                             const Tensor& weight) override;
  void conv2d_backward_weight(const Conv2dGeometry& g, const Tensor& grad_weight, const Tensor& grad_bias,
                              const Tensor& grad_out, const Tensor& in) override;
  void batch_norm_forward_train(const BatchNormTrainArgs& a) override;
  void batch_norm_forward_eval(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var, double eps) override;
  void batch_norm_backward(const BatchNormBackwardArgs& a) override;
  bool fuses_batch_norm_relu(const Tensor& input) const override;
  void batch_norm_relu_backward(const BatchNormBackwardArgs& a) override;
  void max_pool2d_forward(const Pool2dGeometry& g, const Tensor& out, const Tensor& indices,
                          const Tensor& in) override;
  void max_pool2d_backward(const Pool2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                           const Tensor& indices) override;
};

}  // namespace ember::nn
