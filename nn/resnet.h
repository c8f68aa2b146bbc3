// ResNet-18 as torchvision.models.resnet18 (He et al., "Deep Residual Learning for Image
// Recognition", 2015; torchvision/models/resnet.py): same modules, same registration order,
// hence the same parameter and buffer names (conv1.weight, bn1.running_mean,
// layer2.0.downsample.0.weight, fc.bias, ...), so checkpoints move between ember and torch.
//
// Stem::ImageNet is torchvision's: 7x7/2 conv, BN, ReLU, 3x3/2 max-pool (224x224 inputs ->
// 7x7 before the pool). Stem::Cifar is the usual CIFAR variant: a 3x3/1 conv with padding 1
// and no max-pool (32x32 inputs -> 4x4 before the pool); the names stay the same, only
// conv1.weight's shape changes ([64, 3, 3, 3] instead of [64, 3, 7, 7]).
#pragma once

#include <memory>

#include "core/generator.h"
#include "nn/activation.h"
#include "nn/batch_norm.h"
#include "nn/conv2d.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/pooling.h"

namespace ember::nn {

// conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus the input (through a 1x1 conv + BN
// "downsample" when the shape changes), then ReLU.
class BasicBlock : public Module {
 public:
  BasicBlock(int64_t in_planes, int64_t planes, int64_t stride, Generator* generator = nullptr);
  Tensor forward(const Tensor& input) override;
  int64_t forward_flops(const Shape& input, const Shape& output) const override;  // the residual add

  const std::shared_ptr<BatchNorm2d>& bn2() const { return bn2_; }
  bool has_downsample() const { return downsample_ != nullptr; }

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<ReLU> relu_;
  std::shared_ptr<Sequential> downsample_;  // null when the block keeps the shape
};

enum class Stem { ImageNet, Cifar };
const char* stem_name(Stem stem);  // "imagenet", "cifar"

class ResNet18 : public Module {
 public:
  // Built and initialised (reset_parameters) from `generator` (the default one when null).
  ResNet18(int64_t num_classes = 1000, Stem stem = Stem::ImageNet, Generator* generator = nullptr,
           bool zero_init_residual = false);
  Tensor forward(const Tensor& input) override;

  // torchvision's init, over the modules in order: every Conv2d weight kaiming-normal
  // (fan_out, relu); every BatchNorm2d weight 1 and bias 0; the Linear head torch's default
  // (weight and bias uniform in +-1/sqrt(512)); with zero_init_residual, each block's last BN
  // weight 0 (so every residual branch starts as the identity). Running statistics and
  // num_batches_tracked are reset too.
  void reset_parameters(Generator* generator = nullptr, bool zero_init_residual = false);

  // Mixed precision (issue 7): with BFloat16 the activations and the convolutions' weights
  // are bfloat16 (the weights rounded from the float32 parameters at each forward, their
  // gradients returned in float32); batch-norm statistics and parameters, the fc layer and
  // the logits stay float32. Float32 (the default) runs everything in the parameters' dtype.
  void set_compute_dtype(DType dtype);
  DType compute_dtype() const { return compute_dtype_; }
  // Channels-last activations (Note [channels_last] in core/ops/view_ops.cpp): from the stem
  // convolution's output on, activations are stored NHWC and every layer keeps them, so
  // cuDNN's tensor-core convolutions need no layout conversions (the CPU layers convert to
  // NCHW and back: same values, no gain).
  void set_channels_last(bool enabled) { channels_last_ = enabled; }
  bool channels_last() const { return channels_last_; }

  Stem stem() const { return stem_; }
  int64_t num_classes() const { return num_classes_; }
  // Input image side the stem is made for: 224 (ImageNet) or 32 (CIFAR).
  int64_t default_image_size() const { return stem_ == Stem::ImageNet ? 224 : 32; }

 private:
  int64_t num_classes_;
  Stem stem_;
  DType compute_dtype_ = DType::Float32;
  bool channels_last_ = false;
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  std::shared_ptr<ReLU> relu_;
  std::shared_ptr<MaxPool2d> maxpool_;  // null for the CIFAR stem
  std::shared_ptr<Sequential> layers_[4];
  std::shared_ptr<AdaptiveAvgPool2d> avgpool_;
  std::shared_ptr<Linear> fc_;
};

}  // namespace ember::nn
