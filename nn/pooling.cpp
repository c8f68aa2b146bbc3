// max_pool2d (the op, with its backward Node), global_avg_pool2d, and their modules.
#include "nn/pooling.h"

#include <cstdint>

#include <fmt/format.h>

#include "core/autograd/node.h"
#include "core/ops.h"
#include "nn/layer_backend.h"
#include "nn/layer_checks.h"

namespace ember::nn {

namespace {

struct MaxPool2dBackward final : Node {
  Pool2dGeometry geometry;
  Tensor indices;  // int32 [N, C, Ho, Wo]

  std::vector<Tensor> apply(const Tensor& grad_output) override {
    check_not_released();
    const Tensor g = grad_output.contiguous();
    Tensor grad_input = empty({geometry.batch, geometry.channels, geometry.in_h, geometry.in_w}, g.options());
    layer_backend_for(g.device()).max_pool2d_backward(geometry, grad_input, g, indices);
    return {grad_input};
  }
  const char* name() const override { return "MaxPool2dBackward"; }
  void release_saved() override { indices = Tensor(); }
};

}  // namespace

Tensor max_pool2d(const Tensor& input, const MaxPool2dOptions& options) {
  check_floating_4d(input, "max_pool2d", "input");
  Pool2dGeometry g;
  g.batch = input.size(0);
  g.channels = input.size(1);
  g.in_h = input.size(2);
  g.in_w = input.size(3);
  g.kernel_h = options.kernel.h;
  g.kernel_w = options.kernel.w;
  g.stride_h = options.stride.h;
  g.stride_w = options.stride.w;
  g.pad_h = options.padding.h;
  g.pad_w = options.padding.w;
  EMBER_CHECK(g.kernel_h > 0 && g.kernel_w > 0 && g.stride_h > 0 && g.stride_w > 0,
              "max_pool2d: kernel ({}, {}) and stride ({}, {}) must be positive", g.kernel_h, g.kernel_w, g.stride_h,
              g.stride_w);
  EMBER_CHECK(g.pad_h >= 0 && g.pad_w >= 0 && 2 * g.pad_h <= g.kernel_h && 2 * g.pad_w <= g.kernel_w,
              "max_pool2d: padding ({}, {}) must be at most half the kernel ({}, {})", g.pad_h, g.pad_w, g.kernel_h,
              g.kernel_w);
  EMBER_CHECK(g.out_h() > 0 && g.out_w() > 0 && input.numel() > 0,
              "max_pool2d: input of shape {} too small (or empty) for kernel ({}, {}) with padding ({}, {})",
              shape_str(input.sizes()), g.kernel_h, g.kernel_w, g.pad_h, g.pad_w);
  EMBER_CHECK(g.in_h * g.in_w <= INT32_MAX, "max_pool2d: planes of {}x{} exceed the int32 indices", g.in_h, g.in_w);
  const Tensor x = input.detach().contiguous();
  Tensor out = empty({g.batch, g.channels, g.out_h(), g.out_w()}, input.options());
  Tensor indices = empty(out.sizes(), input.options().dtype(DType::Int32));
  layer_backend_for(input.device()).max_pool2d_forward(g, out, indices, x);
  if (any_requires_grad({&input})) {
    auto node = std::make_shared<MaxPool2dBackward>();
    node->geometry = g;
    node->indices = indices;
    attach_node(node, {&input}, out);
  }
  return out;
}

Tensor global_avg_pool2d(const Tensor& input) {
  check_floating_4d(input, "adaptive_avg_pool2d", "input");
  EMBER_CHECK(input.size(2) > 0 && input.size(3) > 0, "adaptive_avg_pool2d: empty planes in input of shape {}",
              shape_str(input.sizes()));
  return mean(input, {2, 3}, /*keepdim=*/true);  // core's reduction: CPU and CUDA, with its backward
}

MaxPool2d::MaxPool2d(Size2 kernel_size, Size2 stride, Size2 padding) : Module("MaxPool2d") {
  options_.kernel = kernel_size;
  options_.stride = stride;
  options_.padding = padding;
}

Tensor MaxPool2d::forward(const Tensor& input) { return max_pool2d(input, options_); }

std::string MaxPool2d::describe() const {
  const MaxPool2dOptions& o = options_;
  return fmt::format("kernel_size=({}, {}), stride=({}, {}), padding=({}, {})", o.kernel.h, o.kernel.w, o.stride.h,
                     o.stride.w, o.padding.h, o.padding.w);
}

int64_t MaxPool2d::forward_flops(const Shape&, const Shape& output) const {
  return shape_numel(output) * (options_.kernel.h * options_.kernel.w - 1);  // comparisons
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Size2 output_size) : Module("AdaptiveAvgPool2d") {
  EMBER_CHECK(output_size == Size2(1), "AdaptiveAvgPool2d: only output size (1, 1) is supported, got ({}, {})",
              output_size.h, output_size.w);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& input) { return global_avg_pool2d(input); }

int64_t AdaptiveAvgPool2d::forward_flops(const Shape& input, const Shape&) const { return shape_numel(input); }

}  // namespace ember::nn
