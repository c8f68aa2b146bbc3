// The unfused baseline of ember-bench-optim: an optimiser step written the naive way, as
// torch.optim's for-loop implementation is - per parameter tensor, one ember Tensor op (one
// kernel launch, one pass over memory, often a fresh temporary) per arithmetic operation.
// It is the same algorithm as the fused step and is checked against it before timing.
// Element-wise optimisers only (Adafactor and Muon have no unfused baseline).
#pragma once

#include <vector>

#include "core/tensor.h"
#include "optim/spec.h"

namespace ember::bench {

class UnfusedOptimizer {
 public:
  // `params` and `grads` are per-tensor views (typically into FlatParameters' buffers).
  UnfusedOptimizer(const optim::OptimizerSpec& spec, std::vector<Tensor> params, std::vector<Tensor> grads);
  void step();

 private:
  optim::OptimizerSpec spec_;
  std::vector<Tensor> params_, grads_;
  void adam_variant(Tensor& p, Tensor& g, Tensor& m, Tensor& v, double t, bool first_tensor);

  std::vector<Tensor> state_[3];  // per tensor, torch's state names in the rule's slot order
  int64_t steps_ = 0;
  double mu_product_ = 1, eta_ = 0, mu_ = 1;  // NAdam's and ASGD's scalars
  kernels::OptimScalars sf_scalars_;          // Schedule-Free's weight_sum and lr_max
};

}  // namespace ember::bench
