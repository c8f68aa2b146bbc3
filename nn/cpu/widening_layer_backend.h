// bfloat16 layers on the CPU: WideningLayerBackend runs a call that involves bfloat16
// tensors in float32 on widened copies and rounds each bfloat16 output once from the float32
// result (calls without bfloat16 go straight through). It is the CPU reference of the mixed-
// precision path (float32 arithmetic, bfloat16 storage), against which the GPU's bfloat16
// kernels are checked, and makes a bfloat16 model run anywhere.
#pragma once

#include "nn/layer_backend.h"

namespace ember::nn {

class WideningLayerBackend final : public LayerBackend {
 public:
  explicit WideningLayerBackend(LayerBackend& inner) : inner_(inner) {}

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
  void max_pool2d_forward(const Pool2dGeometry& g, const Tensor& out, const Tensor& indices,
                          const Tensor& in) override;
  void max_pool2d_backward(const Pool2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                           const Tensor& indices) override;

 private:
  LayerBackend& inner_;
};

}  // namespace ember::nn
