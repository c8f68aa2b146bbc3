// BatchNorm2d: torch.nn.BatchNorm2d with affine parameters and running statistics.
#pragma once

#include "nn/functional.h"
#include "nn/module.h"

namespace ember::nn {

class BatchNorm2d : public Module {
 public:
  // weight 1, bias 0 (torch's and torchvision's init), running_mean 0, running_var 1,
  // num_batches_tracked 0 (int64, 0-d).
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1);
  // Training mode: batch statistics, running statistics updated, num_batches_tracked + 1.
  // Evaluation mode: running statistics.
  Tensor forward(const Tensor& input) override;
  // relu(forward(input)): one fused pass (nn::batch_norm_relu) where the device's backend
  // fuses them while training - then module observers do not see the call - else this
  // module and `relu` called as modules.
  Tensor forward_relu(const Tensor& input, Module& relu);
  std::string describe() const override;
  int64_t forward_flops(const Shape& input, const Shape& output) const override;

  int64_t num_features() const { return num_features_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  const Tensor& running_mean() const { return running_mean_; }
  const Tensor& running_var() const { return running_var_; }
  const Tensor& num_batches_tracked() const { return num_batches_tracked_; }

 private:
  int64_t num_features_;
  double eps_, momentum_;
  void count_batch();  // num_batches_tracked + 1 in training mode

  Tensor weight_, bias_, running_mean_, running_var_, num_batches_tracked_;
};

}  // namespace ember::nn
