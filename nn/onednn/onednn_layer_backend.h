// The oneDNN CPU layers (Note [CPU layer backends] in nn/layer_backend.h): convolutions
// through oneDNN's primitives (onednn_conv.cpp); batch norm, with a fused ReLU, on ember's CPU
// batch-norm kernels (Note [CPU batch norm] in onednn_layer_backend.cpp); max pooling on the
// reference layers (one small pass per step in the ImageNet stem only; its int32 indices are
// the reference's).
//
// Note [oneDNN fallbacks]
// oneDNN takes float32 everywhere and bfloat16 where the CPU has its bfloat16 kernels
// (AVX-512 in oneDNN 2.6). A call it does not take is never an error:
//  - bfloat16 without oneDNN's bfloat16 kernels runs through WideningLayerBackend over this
//    backend: oneDNN in float32 on widened copies, each output rounded once to bfloat16 -
//    exactly the reference's mixed-precision rule, at oneDNN's speed;
//  - float64 (gradient checks), and anything oneDNN rejects, runs on the reference layers.
// Batch norm in float32 and bfloat16 is ember's kernels', not a fallback (no note, not counted).
// Each (operation, dtype) that falls back says so once on stderr; fallback_calls() counts
// every such call (tests check that oneDNN really ran what they compare).
#pragma once

#include <atomic>
#include <mutex>
#include <set>
#include <string>

#include "nn/cpu/widening_layer_backend.h"
#include "nn/layer_backend.h"

namespace ember::nn {

class OnednnLayerBackend final : public LayerBackend {
 public:
  explicit OnednnLayerBackend(LayerBackend& reference) : reference_(reference), widening_(*this) {}

  void conv2d_forward(const Conv2dGeometry& g, const Tensor& out, const Tensor& in, const Tensor& weight,
                      const Tensor& bias) override;
  void conv2d_backward_input(const Conv2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                             const Tensor& weight) override;
  void conv2d_backward_weight(const Conv2dGeometry& g, const Tensor& grad_weight, const Tensor& grad_bias,
                              const Tensor& grad_out, const Tensor& in) override;
  void conv2d_backward(const Conv2dGeometry& g, const Conv2dBackwardArgs& a) override;
  void batch_norm_forward_train(const BatchNormTrainArgs& a) override;
  void batch_norm_forward_eval(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var, double eps) override;
  void batch_norm_backward(const BatchNormBackwardArgs& a) override;
  bool fuses_batch_norm_relu(const Tensor& input) const override;
  void batch_norm_relu_backward(const BatchNormBackwardArgs& a) override;
  void max_pool2d_forward(const Pool2dGeometry& g, const Tensor& out, const Tensor& indices, const Tensor& in) override;
  void max_pool2d_backward(const Pool2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                           const Tensor& indices) override;

  int64_t fallback_calls() const { return fallback_calls_; }

 private:
  // Where a call oneDNN did not take goes (Note [oneDNN fallbacks]), after the one-time note.
  LayerBackend& fallback(const char* operation, DType dtype);

  LayerBackend& reference_;
  WideningLayerBackend widening_;  // bfloat16 through this backend's float32
  std::atomic<int64_t> fallback_calls_{0};
  std::mutex notes_mutex_;
  std::set<std::string> noted_;
};

}  // namespace ember::nn
