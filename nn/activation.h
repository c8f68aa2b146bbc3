// Parameter-free modules over core ops: ReLU, Flatten, Identity.
#pragma once

#include "core/ops.h"
#include "nn/module.h"

namespace ember::nn {

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& input) override { return relu(input); }
  int64_t forward_flops(const Shape&, const Shape& output) const override { return shape_numel(output); }
};

// Flattens dims [start_dim, end_dim] into one (torch.nn.Flatten: start_dim 1 by default).
class Flatten : public Module {
 public:
  explicit Flatten(int start_dim = 1, int end_dim = -1) : Module("Flatten"), start_(start_dim), end_(end_dim) {}
  Tensor forward(const Tensor& input) override { return input.flatten(start_, end_); }

 private:
  int start_, end_;
};

class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& input) override { return input; }
};

}  // namespace ember::nn
