// Parameter initialisers, with torch.nn.init's formulas (torch/nn/init.py). They fill in
// place (Note [stable parameter tensors]) from a Generator's Philox stream, so one seed gives
// the same model on the CPU and on CUDA. The numbers differ from torch's (another generator);
// the distributions are the same.
#pragma once

#include <cstdint>

#include "core/generator.h"
#include "core/tensor.h"

namespace ember::nn::init {

// torch's _calculate_fan_in_and_fan_out: for a weight [out, in, k...] fan_in = in * prod(k),
// fan_out = out * prod(k). Needs at least 2 dims.
struct Fans {
  int64_t fan_in = 0, fan_out = 0;
};
Fans fans(const Shape& shape);

enum class FanMode { FanIn, FanOut };

// Normal(0, std) with std = sqrt(2) / sqrt(fan): kaiming_normal_(mode, nonlinearity="relu").
void kaiming_normal_relu(const Tensor& weight, FanMode mode, Generator* generator = nullptr);
// Uniform in [-bound, bound).
void uniform(const Tensor& t, double bound, Generator* generator = nullptr);
void constant(const Tensor& t, double value);

// torch's default for nn.Linear and nn.Conv2d (reset_parameters): kaiming_uniform_ with
// a = sqrt(5), i.e. weight uniform in +-1/sqrt(fan_in), and the bias (when defined) uniform in
// the same +-1/sqrt(fan_in), fan_in taken from the weight. Weight first, then bias.
void torch_default(const Tensor& weight, const Tensor& bias, Generator* generator = nullptr);

}  // namespace ember::nn::init
