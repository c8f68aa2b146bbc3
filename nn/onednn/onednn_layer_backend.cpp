#include "nn/onednn/onednn_layer_backend.h"

#include <fmt/format.h>

#include <cstdio>

#include "nn/cpu/batch_norm_kernels_cpu.h"
#include "nn/onednn/onednn_layers.h"

namespace ember::nn {

namespace {

bool onednn_dtype(DType dtype) { return dtype == DType::Float32 || dtype == DType::BFloat16; }

OnednnLayerBackend& the_backend() {
  static OnednnLayerBackend backend(reference_layer_backend());
  return backend;
}

}  // namespace

LayerBackend& OnednnLayerBackend::fallback(const char* operation, DType dtype) {
  fallback_calls_++;
  const bool widen = dtype == DType::BFloat16;
  {
    std::lock_guard<std::mutex> lock(notes_mutex_);
    if (noted_.insert(fmt::format("{} {}", operation, dtype_name(dtype))).second) {
      const std::string how = widen ? "runs in float32 through oneDNN on widened copies, rounded once to bfloat16"
                                    : "runs on the reference CPU layers";
      std::fprintf(stderr, "ember: note: oneDNN has no %s %s here; it %s (said once)\n", dtype_name(dtype), operation,
                   how.c_str());
    }
  }
  return widen ? static_cast<LayerBackend&>(widening_) : reference_;
}

void OnednnLayerBackend::conv2d_forward(const Conv2dGeometry& g, const Tensor& out, const Tensor& in,
                                        const Tensor& weight, const Tensor& bias) {
  if (onednn_dtype(in.dtype()) && onednn::conv2d_forward(g, out, in, weight, bias)) return;
  fallback("convolution", in.dtype()).conv2d_forward(g, out, in, weight, bias);
}

void OnednnLayerBackend::conv2d_backward_input(const Conv2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                                               const Tensor& weight) {
  Conv2dBackwardArgs a;
  a.grad_in = grad_in;
  a.grad_out = grad_out;
  a.weight = weight;
  conv2d_backward(g, a);
}

void OnednnLayerBackend::conv2d_backward_weight(const Conv2dGeometry& g, const Tensor& grad_weight,
                                                const Tensor& grad_bias, const Tensor& grad_out, const Tensor& in) {
  Conv2dBackwardArgs a;
  a.grad_weight = grad_weight;
  a.grad_bias = grad_bias;
  a.grad_out = grad_out;
  a.input = in;
  conv2d_backward(g, a);
}

void OnednnLayerBackend::conv2d_backward(const Conv2dGeometry& g, const Conv2dBackwardArgs& a) {
  // Note [small-map backward weights]
  const bool small_map_weights = a.grad_weight.defined() && !a.grad_bias.defined() && onednn::small_output_map(g);
  if (onednn_dtype(a.grad_out.dtype()) && small_map_weights &&
      onednn::conv2d_backward_weights_small_map(g, a.grad_weight, a.grad_out, a.input)) {
    if (!a.grad_in.defined()) return;
    Conv2dBackwardArgs data = a;  // the data pass alone, as any other
    data.grad_weight = Tensor();
    return conv2d_backward(g, data);
  }
  if (onednn_dtype(a.grad_out.dtype()) && onednn::conv2d_backward(g, a)) return;
  fallback("convolution backward", a.grad_out.dtype()).conv2d_backward(g, a);
}

// Note [CPU batch norm]
// Batch norm runs ember's CPU kernels (nn/cpu/batch_norm_kernels_cpu.h), not oneDNN's, by
// choice: on ember's plain NCHW activations oneDNN 2.6 has only its generic batch norm
// (ncsp_bnorm), in bfloat16 2.7x its float32 time, so bfloat16 had run it on widened float32
// copies. The kernels read and write the activations' own type, and fuse the ReLU after the
// batch norm. Measured on 2 threads of an AMD EPYC with AVX-512, ember-bench-train, alternating
// runs: ResNet-18 CIFAR stem at batch 64 went from 55-57 to 60-61 images/s in float32 and from
// about 90 to 105-107 in bfloat16; the ImageNet stem at batch 256 in float32 from 710-714 to 770.
void OnednnLayerBackend::batch_norm_forward_train(const BatchNormTrainArgs& a) {
  if (cpu::batch_norm_kernels_take(a.input)) return cpu::batch_norm_kernels_forward_train(a);
  fallback("batch norm", a.input.dtype()).batch_norm_forward_train(a);
}

void OnednnLayerBackend::batch_norm_forward_eval(const Tensor& out, const Tensor& in, const Tensor& weight,
                                                 const Tensor& bias, const Tensor& running_mean,
                                                 const Tensor& running_var, double eps) {
  if (cpu::batch_norm_kernels_take(in))
    return cpu::batch_norm_kernels_forward_eval(out, in, weight, bias, running_mean, running_var, eps);
  fallback("batch norm", in.dtype()).batch_norm_forward_eval(out, in, weight, bias, running_mean, running_var, eps);
}

void OnednnLayerBackend::batch_norm_backward(const BatchNormBackwardArgs& a) {
  if (cpu::batch_norm_kernels_take(a.input)) return cpu::batch_norm_kernels_backward(a, false);
  fallback("batch norm backward", a.input.dtype()).batch_norm_backward(a);
}

bool OnednnLayerBackend::fuses_batch_norm_relu(const Tensor& input) const {
  return cpu::batch_norm_kernels_take(input);
}

void OnednnLayerBackend::batch_norm_relu_backward(const BatchNormBackwardArgs& a) {
  EMBER_CHECK(cpu::batch_norm_kernels_take(a.input), "internal: a fused batch norm + relu the CPU kernels do not take");
  cpu::batch_norm_kernels_backward(a, true);
}

void OnednnLayerBackend::max_pool2d_forward(const Pool2dGeometry& g, const Tensor& out, const Tensor& indices,
                                            const Tensor& in) {
  reference_.max_pool2d_forward(g, out, indices, in);
}

void OnednnLayerBackend::max_pool2d_backward(const Pool2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                                             const Tensor& indices) {
  reference_.max_pool2d_backward(g, grad_in, grad_out, indices);
}

LayerBackend& onednn_layer_backend() { return the_backend(); }
bool onednn_layers_built() { return true; }
int64_t onednn_fallback_calls() { return the_backend().fallback_calls(); }
int64_t onednn_small_map_weight_calls() { return onednn::small_map_weight_calls(); }
size_t onednn_plan_count() { return onednn::conv_plan_count() + onednn::small_map_plan_count(); }

}  // namespace ember::nn
