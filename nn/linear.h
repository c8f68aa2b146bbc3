// Linear: torch.nn.Linear, y = x W^T + b, through core's matmul (cuBLAS on CUDA).
#pragma once

#include "core/generator.h"
#include "nn/functional.h"
#include "nn/module.h"

namespace ember::nn {

class Linear : public Module {
 public:
  // weight [out, in] and bias [out], both uniform in +-1/sqrt(in) (torch's default).
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator* generator = nullptr);
  Tensor forward(const Tensor& input) override;
  std::string describe() const override;
  int64_t forward_flops(const Shape& input, const Shape& output) const override;
  void reset_parameters(Generator* generator = nullptr);

  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }

 private:
  int64_t in_features_, out_features_;
  Tensor weight_, bias_;
};

}  // namespace ember::nn
