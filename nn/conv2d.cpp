// conv2d (the op, with its backward Node) and the Conv2d module.
#include "nn/conv2d.h"

#include <fmt/format.h>

#include "core/autograd/node.h"
#include "nn/init.h"
#include "nn/layer_backend.h"
#include "nn/layer_checks.h"

namespace ember::nn {

namespace {

struct Conv2dBackward final : Node {
  Conv2dGeometry geometry;
  Tensor input, weight;  // saved only when the other side needs a gradient
  bool has_bias = false;

  std::vector<Tensor> apply(const Tensor& grad_output) override {
    check_not_released();
    const bool nhwc = geometry.channels_last;
    const Tensor g = nhwc ? grad_output.to_channels_last() : grad_output.contiguous();
    Conv2dBackwardArgs args;
    args.grad_out = g;
    args.input = input;
    args.weight = weight;
    if (next_edges[0].node)
      args.grad_in =
          empty_in_layout({geometry.batch, geometry.in_channels, geometry.in_h, geometry.in_w}, g.options(), nhwc);
    const bool want_bias = has_bias && next_edges[2].node;
    if (next_edges[1].node || want_bias) {
      // The backends compute weight and bias gradients together; a frozen weight with a
      // trainable bias still gets its (discarded) gradient computed.
      args.grad_weight = empty_in_layout(
          {geometry.out_channels, geometry.in_channels, geometry.kernel_h, geometry.kernel_w}, g.options(), nhwc);
      if (want_bias) args.grad_bias = empty({geometry.out_channels}, g.options());
    }
    layer_backend_for(g.device()).conv2d_backward(geometry, args);
    return {args.grad_in, args.grad_weight, args.grad_bias};
  }
  const char* name() const override { return "Conv2dBackward"; }
  void release_saved() override {
    input = Tensor();
    weight = Tensor();
  }
};

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options) {
  check_floating_4d(input, "conv2d", "input");
  check_same_device(input, weight, "conv2d");
  check_same_dtype(input, weight, "conv2d");
  EMBER_CHECK(weight.dim() == 4, "conv2d: weight must be 4-D [out, in, kh, kw], got shape {}",
              shape_str(weight.sizes()));
  EMBER_CHECK(weight.size(1) == input.size(1),
              "conv2d: input of shape {} has {} channels but the weight of shape {} expects {}",
              shape_str(input.sizes()), input.size(1), shape_str(weight.sizes()), weight.size(1));
  if (bias.defined()) {
    check_same_device(input, bias, "conv2d");
    check_same_dtype(input, bias, "conv2d");
    EMBER_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "conv2d: bias of shape {} for {} output channels",
                shape_str(bias.sizes()), weight.size(0));
  }
  Conv2dGeometry g;
  g.batch = input.size(0);
  g.in_channels = input.size(1);
  g.in_h = input.size(2);
  g.in_w = input.size(3);
  g.out_channels = weight.size(0);
  g.kernel_h = weight.size(2);
  g.kernel_w = weight.size(3);
  g.stride_h = options.stride.h;
  g.stride_w = options.stride.w;
  g.pad_h = options.padding.h;
  g.pad_w = options.padding.w;
  EMBER_CHECK(g.stride_h > 0 && g.stride_w > 0 && g.pad_h >= 0 && g.pad_w >= 0,
              "conv2d: stride must be positive and padding non-negative (stride ({}, {}), padding ({}, {}))",
              g.stride_h, g.stride_w, g.pad_h, g.pad_w);
  EMBER_CHECK(g.kernel_h > 0 && g.kernel_w > 0 && g.in_h + 2 * g.pad_h >= g.kernel_h && g.in_w + 2 * g.pad_w >= g.kernel_w,
              "conv2d: kernel {}x{} larger than the padded input of shape {} (padding ({}, {}))", g.kernel_h,
              g.kernel_w, shape_str(input.sizes()), g.pad_h, g.pad_w);
  EMBER_CHECK(g.batch > 0 && g.in_channels > 0 && g.out_channels > 0, "conv2d: empty input {} or weight {}",
              shape_str(input.sizes()), shape_str(weight.sizes()));

  g.channels_last = keeps_nhwc(input);  // Note [channels_last]: filters then go NHWC too
  const Tensor x = layer_input(input.detach());
  const Tensor w = g.channels_last ? weight.detach().to_channels_last() : weight.detach().contiguous();
  const Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = empty_in_layout({g.batch, g.out_channels, g.out_h(), g.out_w()}, input.options(), g.channels_last);
  layer_backend_for(input.device()).conv2d_forward(g, out, x, w, b);

  if (any_requires_grad({&input, &weight, &bias})) {
    auto node = std::make_shared<Conv2dBackward>();
    node->geometry = g;
    node->has_bias = bias.defined();
    if (weight.requires_grad() || (bias.defined() && bias.requires_grad())) node->input = x;
    if (input.requires_grad()) node->weight = w;
    attach_node(node, {&input, &weight, &bias}, out);
  }
  return out;
}

Conv2d::Conv2d(const Conv2dConfig& config, Generator* generator) : Module("Conv2d"), config_(config) {
  EMBER_CHECK(config.in_channels > 0 && config.out_channels > 0 && config.kernel_size.h > 0 && config.kernel_size.w > 0,
              "Conv2d: channels and kernel size must be positive (in {}, out {}, kernel ({}, {}))", config.in_channels,
              config.out_channels, config.kernel_size.h, config.kernel_size.w);
  weight_ = register_parameter(
      "weight", empty({config.out_channels, config.in_channels, config.kernel_size.h, config.kernel_size.w}));
  if (config.bias) bias_ = register_parameter("bias", empty({config.out_channels}));
  reset_parameters(generator);
}

void Conv2d::reset_parameters(Generator* generator) { init::torch_default(weight_, bias_, generator); }

Tensor Conv2d::forward(const Tensor& input) {
  const Conv2dOptions options{config_.stride, config_.padding};
  if (input.dtype() == DType::BFloat16 && weight_.dtype() != DType::BFloat16) {
    // Mixed precision: the float32 weights are rounded to bfloat16 for this forward (the
    // cast's backward hands the gradient back in float32, for the float32 master weights).
    return conv2d(input, weight_.to(DType::BFloat16), bias_.defined() ? bias_.to(DType::BFloat16) : Tensor(), options);
  }
  return conv2d(input, weight_, bias_, options);
}

std::string Conv2d::describe() const {
  const Conv2dConfig& c = config_;
  std::string s = fmt::format("{}, {}, kernel_size=({}, {}), stride=({}, {})", c.in_channels, c.out_channels,
                              c.kernel_size.h, c.kernel_size.w, c.stride.h, c.stride.w);
  if (!(c.padding == Size2(0))) s += fmt::format(", padding=({}, {})", c.padding.h, c.padding.w);
  if (!c.bias) s += ", bias=False";
  return s;
}

int64_t Conv2d::forward_flops(const Shape&, const Shape& output) const {
  // One multiply-add per weight element per output position, plus the bias add.
  const int64_t positions = shape_numel(output) / config_.out_channels;
  const int64_t macs = positions * weight_.numel();
  return 2 * macs + (config_.bias ? shape_numel(output) : 0);
}

}  // namespace ember::nn
