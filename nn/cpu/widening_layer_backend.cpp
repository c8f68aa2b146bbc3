#include "nn/cpu/widening_layer_backend.h"

#include <initializer_list>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"

namespace ember::nn {

namespace {

bool any_bf16(std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors)
    if (t->defined() && t->dtype() == DType::BFloat16) return true;
  return false;
}

// A float32 copy of a bfloat16 tensor; anything else as it is.
Tensor widen(const Tensor& t) { return t.defined() && t.dtype() == DType::BFloat16 ? t.to(DType::Float32) : t; }

// Where a float32 result for `out` goes: a float32 scratch tensor if `out` is bfloat16.
Tensor float_target(const Tensor& out) {
  return out.defined() && out.dtype() == DType::BFloat16 ? empty(out.sizes(), out.options().dtype(DType::Float32))
                                                         : out;
}

// Rounds the float32 result into the bfloat16 `out` (nothing to do if it was written in place).
void narrow_into(const Tensor& out, const Tensor& result) {
  if (out.defined() && out.dtype() != result.dtype()) out.copy_(result);
}

}  // namespace

void WideningLayerBackend::conv2d_forward(const Conv2dGeometry& g, const Tensor& out, const Tensor& in,
                                          const Tensor& weight, const Tensor& bias) {
  EMBER_CHECK(!g.channels_last, "internal: the CPU layers take NCHW (conv2d converts channels_last inputs)");
  if (!any_bf16({&out, &in, &weight, &bias})) return inner_.conv2d_forward(g, out, in, weight, bias);
  NoGradGuard no_grad;
  const Tensor o = float_target(out);
  inner_.conv2d_forward(g, o, widen(in), widen(weight), widen(bias));
  narrow_into(out, o);
}

void WideningLayerBackend::conv2d_backward_input(const Conv2dGeometry& g, const Tensor& grad_in,
                                                 const Tensor& grad_out, const Tensor& weight) {
  if (!any_bf16({&grad_in, &grad_out, &weight})) return inner_.conv2d_backward_input(g, grad_in, grad_out, weight);
  NoGradGuard no_grad;
  const Tensor gi = float_target(grad_in);
  inner_.conv2d_backward_input(g, gi, widen(grad_out), widen(weight));
  narrow_into(grad_in, gi);
}

void WideningLayerBackend::conv2d_backward_weight(const Conv2dGeometry& g, const Tensor& grad_weight,
                                                  const Tensor& grad_bias, const Tensor& grad_out, const Tensor& in) {
  if (!any_bf16({&grad_weight, &grad_bias, &grad_out, &in}))
    return inner_.conv2d_backward_weight(g, grad_weight, grad_bias, grad_out, in);
  NoGradGuard no_grad;
  const Tensor gw = float_target(grad_weight), gb = float_target(grad_bias);
  inner_.conv2d_backward_weight(g, gw, gb, widen(grad_out), widen(in));
  narrow_into(grad_weight, gw);
  narrow_into(grad_bias, gb);
}

void WideningLayerBackend::batch_norm_forward_train(const BatchNormTrainArgs& a) {
  EMBER_CHECK(!a.relu, "internal: the CPU layers do not fuse batch norm and relu");
  if (!any_bf16({&a.out, &a.input})) return inner_.batch_norm_forward_train(a);
  NoGradGuard no_grad;
  BatchNormTrainArgs wide = a;
  wide.out = float_target(a.out);
  wide.input = widen(a.input);
  inner_.batch_norm_forward_train(wide);
  narrow_into(a.out, wide.out);
}

void WideningLayerBackend::batch_norm_forward_eval(const Tensor& out, const Tensor& in, const Tensor& weight,
                                                   const Tensor& bias, const Tensor& running_mean,
                                                   const Tensor& running_var, double eps) {
  if (!any_bf16({&out, &in})) return inner_.batch_norm_forward_eval(out, in, weight, bias, running_mean, running_var, eps);
  NoGradGuard no_grad;
  const Tensor o = float_target(out);
  inner_.batch_norm_forward_eval(o, widen(in), weight, bias, running_mean, running_var, eps);
  narrow_into(out, o);
}

void WideningLayerBackend::batch_norm_backward(const BatchNormBackwardArgs& a) {
  if (!any_bf16({&a.grad_in, &a.grad_out, &a.input})) return inner_.batch_norm_backward(a);
  NoGradGuard no_grad;
  BatchNormBackwardArgs wide = a;
  wide.grad_in = float_target(a.grad_in);
  wide.grad_out = widen(a.grad_out);
  wide.input = widen(a.input);
  inner_.batch_norm_backward(wide);
  narrow_into(a.grad_in, wide.grad_in);
}

void WideningLayerBackend::max_pool2d_forward(const Pool2dGeometry& g, const Tensor& out, const Tensor& indices,
                                              const Tensor& in) {
  if (!any_bf16({&out, &in})) return inner_.max_pool2d_forward(g, out, indices, in);
  NoGradGuard no_grad;
  const Tensor o = float_target(out);
  inner_.max_pool2d_forward(g, o, indices, widen(in));
  narrow_into(out, o);
}

void WideningLayerBackend::max_pool2d_backward(const Pool2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                                               const Tensor& indices) {
  if (!any_bf16({&grad_in, &grad_out})) return inner_.max_pool2d_backward(g, grad_in, grad_out, indices);
  NoGradGuard no_grad;
  const Tensor gi = float_target(grad_in);
  inner_.max_pool2d_backward(g, gi, widen(grad_out), indices);
  narrow_into(grad_in, gi);
}

}  // namespace ember::nn
