// linear (the op, with its backward Node: three GEMMs through core's matmul, i.e. OpenBLAS
// or cuBLAS) and the Linear module.
#include "nn/linear.h"

#include <fmt/format.h>

#include "core/autograd/node.h"
#include "core/ops.h"
#include "nn/cpu/cpu_layer_backend.h"
#include "nn/init.h"

namespace ember::nn {

namespace {

// Note [small GEMMs on one thread]
// A classifier head's GEMMs are tiny ([64, 512] x [512, 10]), and letting OpenBLAS's
// pthread pool wake up for them costs more than it saves: its threads then spin beside
// the OpenMP threads of the layers that follow (measured: ResNet-18 training on 2 cores,
// 380 -> 470 images/s with every GEMM single-threaded). Below kThreadedMacs
// multiply-adds the CPU GEMMs of linear run on the calling thread.
constexpr int64_t kThreadedMacs = int64_t(1) << 24;

bool small_on_cpu(const Tensor& t, int64_t macs) { return t.device().is_cpu() && macs < kThreadedMacs; }

struct LinearBackward final : Node {
  Tensor input, weight;  // saved only when the other side needs a gradient
  bool has_bias = false;

  std::vector<Tensor> apply(const Tensor& g) override {
    check_not_released();
    const int64_t macs = g.size(0) * g.size(1) * (input.defined() ? input.size(1) : weight.size(1));
    cpu::BlasSingleThreadScope scope(small_on_cpu(g, macs));
    Tensor grad_input, grad_weight, grad_bias;
    if (next_edges[0].node) grad_input = matmul(g, weight);          // [N, out] x [out, in]
    if (next_edges[1].node) grad_weight = matmul(g.t(), input);      // [out, N] x [N, in]
    if (has_bias && next_edges[2].node) grad_bias = sum(g, {0});
    return {grad_input, grad_weight, grad_bias};
  }
  const char* name() const override { return "LinearBackward"; }
  void release_saved() override {
    input = Tensor();
    weight = Tensor();
  }
};

}  // namespace

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  EMBER_CHECK(input.defined() && weight.defined(), "linear: undefined input or weight");
  EMBER_CHECK(input.dim() == 2 && weight.dim() == 2 && input.size(1) == weight.size(1),
              "linear: input of shape {} does not match weight of shape {} (expected [N, {}])",
              shape_str(input.sizes()), shape_str(weight.sizes()), weight.dim() == 2 ? weight.size(1) : 0);
  check_same_device(input, weight, "linear");
  check_same_dtype(input, weight, "linear");
  if (bias.defined()) {
    check_same_device(input, bias, "linear");
    check_same_dtype(input, bias, "linear");
    EMBER_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "linear: bias of shape {} for {} outputs",
                shape_str(bias.sizes()), weight.size(0));
  }
  const Tensor x = input.detach(), w = weight.detach();
  Tensor out;
  {
    cpu::BlasSingleThreadScope scope(small_on_cpu(input, input.size(0) * weight.size(0) * weight.size(1)));
    out = matmul(x, w.t());  // the transpose is a flag to BLAS, not a copy
  }
  if (bias.defined()) out = add(out, bias.detach());
  if (any_requires_grad({&input, &weight, &bias})) {
    auto node = std::make_shared<LinearBackward>();
    node->has_bias = bias.defined();
    if (weight.requires_grad()) node->input = x;
    if (input.requires_grad()) node->weight = w;
    attach_node(node, {&input, &weight, &bias}, out);
  }
  return out;
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
