#include "nn/resnet.h"

#include <string>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/init.h"

namespace ember::nn {

namespace {

std::shared_ptr<Conv2d> make_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                                  Generator* generator) {
  Conv2dConfig c;
  c.in_channels = in;
  c.out_channels = out;
  c.kernel_size = kernel;
  c.stride = stride;
  c.padding = padding;
  c.bias = false;
  return std::make_shared<Conv2d>(c, generator);
}

}  // namespace

const char* stem_name(Stem stem) { return stem == Stem::ImageNet ? "imagenet" : "cifar"; }

BasicBlock::BasicBlock(int64_t in_planes, int64_t planes, int64_t stride, Generator* generator)
    : Module("BasicBlock") {
  // Registration order = torchvision's attribute order = its state_dict order.
  conv1_ = register_module("conv1", make_conv(in_planes, planes, 3, stride, 1, generator));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  relu_ = register_module("relu", std::make_shared<ReLU>());
  conv2_ = register_module("conv2", make_conv(planes, planes, 3, 1, 1, generator));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  if (stride != 1 || in_planes != planes) {
    downsample_ = register_module("downsample", std::make_shared<Sequential>());
    downsample_->push_back(make_conv(in_planes, planes, 1, stride, 0, generator));
    downsample_->push_back(std::make_shared<BatchNorm2d>(planes));
  }
}

Tensor BasicBlock::forward(const Tensor& input) {
  Tensor out = bn1_->forward_relu((*conv1_)(input), *relu_);
  out = (*bn2_)((*conv2_)(out));
  const Tensor identity = downsample_ ? (*downsample_)(input) : input;
  return (*relu_)(out + identity);
}

int64_t BasicBlock::forward_flops(const Shape&, const Shape& output) const { return shape_numel(output); }

ResNet18::ResNet18(int64_t num_classes, Stem stem, Generator* generator, bool zero_init_residual)
    : Module("ResNet"), num_classes_(num_classes), stem_(stem) {
  EMBER_CHECK(num_classes > 0, "ResNet18: num_classes must be positive, got {}", num_classes);
  // The layers' own default init draws from a scratch generator; reset_parameters below
  // then draws every parameter from `generator` in module order.
  Generator scratch(0);
  if (stem == Stem::ImageNet) {
    conv1_ = register_module("conv1", make_conv(3, 64, 7, 2, 3, &scratch));
  } else {
    conv1_ = register_module("conv1", make_conv(3, 64, 3, 1, 1, &scratch));
  }
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(64));
  relu_ = register_module("relu", std::make_shared<ReLU>());
  if (stem == Stem::ImageNet) maxpool_ = register_module("maxpool", std::make_shared<MaxPool2d>(3, 2, 1));
  const int64_t widths[4] = {64, 128, 256, 512};
  int64_t in_planes = 64;
  for (int i = 0; i < 4; ++i) {
    auto layer = std::make_shared<Sequential>();
    const int64_t stride = i == 0 ? 1 : 2;
    layer->push_back(std::make_shared<BasicBlock>(in_planes, widths[i], stride, &scratch));
    layer->push_back(std::make_shared<BasicBlock>(widths[i], widths[i], 1, &scratch));
    in_planes = widths[i];
    layers_[i] = register_module("layer" + std::to_string(i + 1), layer);
  }
  avgpool_ = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(1));
  fc_ = register_module("fc", std::make_shared<Linear>(512, num_classes, true, &scratch));
  reset_parameters(generator, zero_init_residual);
}

void ResNet18::reset_parameters(Generator* generator, bool zero_init_residual) {
  NoGradGuard no_grad;
  for (auto& [name, m] : named_modules()) {
    if (auto* conv = dynamic_cast<Conv2d*>(m)) {
      init::kaiming_normal_relu(conv->weight(), init::FanMode::FanOut, generator);
    } else if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) {
      init::constant(bn->weight(), 1.0);
      init::constant(bn->bias(), 0.0);
      init::constant(bn->running_mean(), 0.0);
      init::constant(bn->running_var(), 1.0);
      init::constant(bn->num_batches_tracked(), 0.0);
    } else if (auto* fc = dynamic_cast<Linear*>(m)) {
      fc->reset_parameters(generator);
    }
  }
  if (zero_init_residual)
    for (auto& [name, m] : named_modules())
      if (auto* block = dynamic_cast<BasicBlock*>(m)) init::constant(block->bn2()->weight(), 0.0);
}

Tensor ResNet18::forward(const Tensor& input) {
  EMBER_CHECK(input.dim() == 4 && input.size(1) == 3, "ResNet18: expected images [N, 3, H, W], got shape {}",
              input.sizes().empty() ? "[]" : shape_str(input.sizes()));
  const bool mixed = compute_dtype_ == DType::BFloat16;
  Tensor x = (*conv1_)(mixed ? input.to(DType::BFloat16) : input);
  // NHWC from conv1's output on: its 3 input channels stay NCHW (cuDNN's NHWC tensor-core
  // kernels want a multiple of 8 channels).
  if (channels_last_) x = x.to_channels_last();
  x = bn1_->forward_relu(x, *relu_);
  if (maxpool_) {
    x = (*maxpool_)(x);  // ember's pooling kernels are NCHW
    if (channels_last_) x = x.to_channels_last();
  }
  for (auto& layer : layers_) x = (*layer)(x);
  x = (*avgpool_)(x).flatten(1);
  return (*fc_)(mixed ? x.to(fc_->weight().dtype()) : x);
}

void ResNet18::set_compute_dtype(DType dtype) {
  EMBER_CHECK(dtype == DType::Float32 || dtype == DType::BFloat16,
              "ResNet18: compute dtype must be float32 or bfloat16 (mixed precision), got {}", dtype_name(dtype));
  compute_dtype_ = dtype;
}

}  // namespace ember::nn
