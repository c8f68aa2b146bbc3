// MaxPool2d and AdaptiveAvgPool2d (to 1x1), as torch.nn's.
#pragma once

#include "nn/functional.h"
#include "nn/module.h"

namespace ember::nn {

class MaxPool2d : public Module {
 public:
  // stride defaults to the kernel size, as in torch.
  MaxPool2d(Size2 kernel_size, Size2 stride, Size2 padding = 0);
  explicit MaxPool2d(Size2 kernel_size) : MaxPool2d(kernel_size, kernel_size) {}
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;
  int64_t forward_flops(const Shape& input, const Shape& output) const override;

 private:
  MaxPool2dOptions options_;
};

// Only the (1, 1) output size is supported (what ResNets use): the mean over each plane.
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size = 1);
  Tensor forward(const Tensor& input) override;
  std::string describe() const override { return "output_size=(1, 1)"; }
  int64_t forward_flops(const Shape& input, const Shape& output) const override;
};

}  // namespace ember::nn
