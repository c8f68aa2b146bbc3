#include "nn/init.h"

#include <cmath>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"

namespace ember::nn::init {

Fans fans(const Shape& shape) {
  EMBER_CHECK(shape.size() >= 2, "fan in and fan out need a tensor of at least 2 dims, got shape {}",
              shape_str(shape));
  int64_t receptive = 1;
  for (size_t d = 2; d < shape.size(); ++d) receptive *= shape[d];
  return {shape[1] * receptive, shape[0] * receptive};
}

void uniform(const Tensor& t, double bound, Generator* generator) {
  uniform_(t, -bound, bound, generator);
}

void constant(const Tensor& t, double value) {
  NoGradGuard no_grad;  // fill_ is refused on tensors that require grad in grad mode
  t.fill_(value);
}

void kaiming_normal_relu(const Tensor& weight, FanMode mode, Generator* generator) {
  const Fans f = fans(weight.sizes());
  const int64_t fan = mode == FanMode::FanIn ? f.fan_in : f.fan_out;
  EMBER_CHECK(fan > 0, "kaiming_normal on a weight of shape {} with a zero fan", shape_str(weight.sizes()));
  const double gain = std::sqrt(2.0);  // torch's calculate_gain("relu")
  normal_(weight, 0.0, gain / std::sqrt(static_cast<double>(fan)), generator);
}

void torch_default(const Tensor& weight, const Tensor& bias, Generator* generator) {
  const int64_t fan_in = fans(weight.sizes()).fan_in;
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  // kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / fan_in) = 1/sqrt(fan_in).
  uniform(weight, bound, generator);
  if (bias.defined()) uniform(bias, bound, generator);
}

}  // namespace ember::nn::init
