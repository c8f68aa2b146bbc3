// batch_norm (the op, with its backward Node) and the BatchNorm2d module.
#include "nn/batch_norm.h"

#include <fmt/format.h>

#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/ops.h"
#include "nn/layer_backend.h"
#include "nn/layer_checks.h"

namespace ember::nn {

namespace {

struct BatchNormBackward final : Node {
  Tensor input, weight, save_mean, save_invstd;
  Tensor bias;  // the fused relu's (nn::batch_norm_relu) only: its mask is recomputed
  double eps = 1e-5;

  std::vector<Tensor> apply(const Tensor& grad_output) override {
    check_not_released();
    const bool nhwc = is_nhwc(input);  // the saved working copy: NHWC only on CUDA
    const Tensor g = nhwc ? grad_output.to_channels_last() : grad_output.contiguous();
    Tensor grad_input = empty_in_layout(input.sizes(), g.options(), nhwc);  // bfloat16 for a mixed-precision layer
    Tensor grad_weight = empty(weight.sizes(), weight.options()), grad_bias = empty(weight.sizes(), weight.options());
    BatchNormBackwardArgs args;
    args.grad_in = grad_input;
    args.grad_weight = grad_weight;
    args.grad_bias = grad_bias;
    args.grad_out = g;
    args.input = input;
    args.weight = weight;
    args.save_mean = save_mean;
    args.save_invstd = save_invstd;
    args.bias = bias;
    args.eps = eps;
    LayerBackend& backend = layer_backend_for(g.device());
    if (bias.defined())
      backend.batch_norm_relu_backward(args);
    else
      backend.batch_norm_backward(args);
    return {grad_input, grad_weight, grad_bias};
  }
  const char* name() const override { return "BatchNormBackward"; }
  void release_saved() override {
    input = Tensor();
    weight = Tensor();
    bias = Tensor();
    save_mean = Tensor();
    save_invstd = Tensor();
  }
};

// Evaluation mode with gradients (rare: fine-tuning with frozen statistics): an affine map
// per channel written with core ops, whose gradients come free on every device. A bfloat16
// input is computed in float32 and the result rounded back.
Tensor batch_norm_eval_differentiable(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                      const Tensor& running_mean, const Tensor& running_var, double eps) {
  if (x.dtype() != weight.dtype())
    return batch_norm_eval_differentiable(x.to(weight.dtype()), weight, bias, running_mean, running_var, eps)
        .to(x.dtype());
  const Shape per_channel = {1, x.size(1), 1, 1};
  const Tensor invstd = pow(running_var.detach() + eps, -0.5);
  const Tensor scale = (weight * invstd).view(per_channel);
  return (x - running_mean.detach().view(per_channel)) * scale + bias.view(per_channel);
}

}  // namespace

namespace {

// batch_norm, and with fuse_relu (training, where the backend fuses) relu(batch_norm).
Tensor batch_norm_op(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                     const Tensor& running_var, bool training, double momentum, double eps, bool fuse_relu) {
  check_floating_4d(input, "batch_norm", "input");
  const int64_t channels = input.size(1);
  check_channel_tensor(weight, input, channels, "batch_norm", "weight");
  check_channel_tensor(bias, input, channels, "batch_norm", "bias");
  EMBER_CHECK(running_mean.defined() == running_var.defined(),
              "batch_norm: give both running_mean and running_var or neither");
  if (running_mean.defined()) {
    check_channel_tensor(running_mean, input, channels, "batch_norm", "running_mean");
    check_channel_tensor(running_var, input, channels, "batch_norm", "running_var");
    EMBER_CHECK(running_mean.is_contiguous() && running_var.is_contiguous() && !running_mean.requires_grad() &&
                    !running_var.requires_grad(),
                "batch_norm: running statistics must be contiguous tensors that do not require grad");
  }
  EMBER_CHECK(eps > 0, "batch_norm: eps must be positive, got {}", eps);
  EMBER_CHECK(input.numel() > 0, "batch_norm: empty input of shape {}", shape_str(input.sizes()));
  LayerBackend& backend = layer_backend_for(input.device());
  const Tensor x = layer_input(input.detach()), w = weight.detach().contiguous(), b = bias.detach().contiguous();
  const bool nhwc = is_nhwc(x);

  if (!training) {
    EMBER_CHECK(running_mean.defined(), "batch_norm: evaluation mode needs running statistics");
    if (any_requires_grad({&input, &weight, &bias}))
      return batch_norm_eval_differentiable(input, weight, bias, running_mean, running_var, eps);
    Tensor out = empty_in_layout(input.sizes(), input.options(), nhwc);
    backend.batch_norm_forward_eval(out, x, w, b, running_mean, running_var, eps);
    return out;
  }

  const int64_t per_channel = input.numel() / channels;
  EMBER_CHECK(per_channel > 1, "batch_norm: expected more than 1 value per channel when training, got input of shape {}",
              shape_str(input.sizes()));
  BatchNormTrainArgs args;
  args.out = empty_in_layout(input.sizes(), input.options(), nhwc);
  args.save_mean = empty({channels}, weight.options());  // float32 for a bfloat16 input
  args.save_invstd = empty({channels}, weight.options());
  args.input = x;
  args.weight = w;
  args.bias = b;
  args.running_mean = running_mean;
  args.running_var = running_var;
  args.momentum = momentum;
  args.eps = eps;
  args.relu = fuse_relu;
  backend.batch_norm_forward_train(args);

  if (any_requires_grad({&input, &weight, &bias})) {
    auto node = std::make_shared<BatchNormBackward>();
    node->input = x;
    node->weight = w;
    node->save_mean = args.save_mean;
    node->save_invstd = args.save_invstd;
    node->eps = eps;
    if (fuse_relu) node->bias = b;
    attach_node(node, {&input, &weight, &bias}, args.out);
  }
  return args.out;
}

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  return batch_norm_op(input, weight, bias, running_mean, running_var, training, momentum, eps, false);
}

Tensor batch_norm_relu(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum, double eps) {
  const bool fused = training && input.defined() && layer_backend_for(input.device()).fuses_batch_norm_relu(input);
  if (!fused) return relu(batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps));
  return batch_norm_op(input, weight, bias, running_mean, running_var, training, momentum, eps, true);
}

BatchNorm2d::BatchNorm2d(int64_t num_features, double eps, double momentum)
    : Module("BatchNorm2d"), num_features_(num_features), eps_(eps), momentum_(momentum) {
  EMBER_CHECK(num_features > 0, "BatchNorm2d: num_features must be positive, got {}", num_features);
  weight_ = register_parameter("weight", ones({num_features}));
  bias_ = register_parameter("bias", zeros({num_features}));
  running_mean_ = register_buffer("running_mean", zeros({num_features}));
  running_var_ = register_buffer("running_var", ones({num_features}));
  num_batches_tracked_ = register_buffer("num_batches_tracked", zeros({}, DType::Int64));
}

void BatchNorm2d::count_batch() {
  if (!is_training()) return;
  NoGradGuard no_grad;  // bookkeeping, not part of the graph
  num_batches_tracked_.add_(ones({}, num_batches_tracked_.options()));
}

Tensor BatchNorm2d::forward(const Tensor& input) {
  count_batch();
  return batch_norm(input, weight_, bias_, running_mean_, running_var_, is_training(), momentum_, eps_);
}

Tensor BatchNorm2d::forward_relu(const Tensor& input, Module& relu) {
  const bool fused = is_training() && layer_backend_for(input.device()).fuses_batch_norm_relu(input);
  if (!fused) return relu((*this)(input));  // the two modules, as modules (observers see them)
  count_batch();
  return batch_norm_relu(input, weight_, bias_, running_mean_, running_var_, true, momentum_, eps_);
}

std::string BatchNorm2d::describe() const {
  return fmt::format("{}, eps={}, momentum={}, affine=True, track_running_stats=True", num_features_, eps_, momentum_);
}

int64_t BatchNorm2d::forward_flops(const Shape& input, const Shape&) const {
  return 2 * shape_numel(input);  // a scale and a shift per element (as folded for inference)
}

}  // namespace ember::nn
