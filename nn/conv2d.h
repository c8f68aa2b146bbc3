// Conv2d: torch.nn.Conv2d with dilation 1 and groups 1 (what ResNets use).
#pragma once

#include "core/generator.h"
#include "nn/functional.h"
#include "nn/module.h"

namespace ember::nn {

struct Conv2dConfig {
  int64_t in_channels = 0, out_channels = 0;
  Size2 kernel_size = 1, stride = 1, padding = 0;
  bool bias = true;
};

class Conv2d : public Module {
 public:
  // Parameters: weight [out, in, kh, kw] and, with bias, bias [out]; both initialised as
  // torch's default (uniform in +-1/sqrt(fan_in), nn/init.h) from `generator` (the default
  // generator when null).
  explicit Conv2d(const Conv2dConfig& config, Generator* generator = nullptr);
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;
  int64_t forward_flops(const Shape& input, const Shape& output) const override;
  void reset_parameters(Generator* generator = nullptr);

  const Conv2dConfig& config() const { return config_; }
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }  // undefined without bias

 private:
  Conv2dConfig config_;
  Tensor weight_, bias_;
};

}  // namespace ember::nn
