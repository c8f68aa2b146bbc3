// linear (composed of core's matmul and broadcasting add: their backward Nodes give the
// gradients) and the Linear module.
#include "nn/linear.h"

#include <fmt/format.h>

#include "core/ops.h"
#include "nn/init.h"

namespace ember::nn {

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  EMBER_CHECK(input.defined() && weight.defined(), "linear: undefined input or weight");
  EMBER_CHECK(input.dim() == 2 && weight.dim() == 2 && input.size(1) == weight.size(1),
              "linear: input of shape {} does not match weight of shape {} (expected [N, {}])",
              shape_str(input.sizes()), shape_str(weight.sizes()), weight.dim() == 2 ? weight.size(1) : 0);
  Tensor out = matmul(input, weight.t());  // the transpose is a flag to BLAS, not a copy
  if (!bias.defined()) return out;
  EMBER_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "linear: bias of shape {} for {} outputs",
              shape_str(bias.sizes()), weight.size(0));
  return out + bias;
}

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, Generator* generator)
    : Module("Linear"), in_features_(in_features), out_features_(out_features) {
  EMBER_CHECK(in_features > 0 && out_features > 0, "Linear: sizes must be positive (in {}, out {})", in_features,
              out_features);
  weight_ = register_parameter("weight", empty({out_features, in_features}));
  if (bias) bias_ = register_parameter("bias", empty({out_features}));
  reset_parameters(generator);
}

void Linear::reset_parameters(Generator* generator) { init::torch_default(weight_, bias_, generator); }

Tensor Linear::forward(const Tensor& input) { return linear(input, weight_, bias_); }

std::string Linear::describe() const {
  return fmt::format("in_features={}, out_features={}, bias={}", in_features_, out_features_,
                     bias_.defined() ? "True" : "False");
}

int64_t Linear::forward_flops(const Shape&, const Shape& output) const {
  const int64_t rows = shape_numel(output) / out_features_;
  return rows * (2 * in_features_ * out_features_ + (bias_.defined() ? out_features_ : 0));
}

}  // namespace ember::nn
