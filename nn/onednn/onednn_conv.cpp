// oneDNN convolutions: forward, backward-data and backward-weights, each a primitive made once
// per (geometry, dtype, bias, thread count) with its memory formats left to oneDNN
// (format_tag::any: on AVX2 the activations go nChw8c, the filters OIhw8i8o) and the
// reorders between those and ember's NCHW/OIHW tensors made once too (nn/onednn/onednn_plan.h).
// The direct algorithm only: it is deterministic and, unlike Winograd, exact to float rounding.
#include <fmt/format.h>

#include "nn/onednn/onednn_layers.h"
#include "nn/onednn/onednn_plan.h"

namespace ember::nn::onednn {

namespace {

using dnnl::memory;
using tag = memory::format_tag;

enum class ConvPass { Forward, BackwardData, BackwardWeights };

struct ConvKey {
  ConvPass pass;
  int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw;
  DType dtype;
  bool bias;
  int threads;
  auto tie() const { return std::tie(pass, n, c, h, w, o, kh, kw, sh, sw, ph, pw, dtype, bias, threads); }
  bool operator<(const ConvKey& other) const { return tie() < other.tie(); }
};

ConvKey key_of(ConvPass pass, const Conv2dGeometry& g, DType dtype, bool bias, int threads) {
  return {pass,       g.batch,    g.in_channels, g.in_h,  g.in_w, g.out_channels, g.kernel_h, g.kernel_w,
          g.stride_h, g.stride_w, g.pad_h,       g.pad_w, dtype,  bias,           threads};
}

std::string shape_of(const ConvKey& k) {
  return fmt::format("input [{}, {}, {}, {}], weight [{}, {}, {}, {}], stride ({}, {}), padding ({}, {}), {}", k.n, k.c,
                     k.h, k.w, k.o, k.c, k.kh, k.kw, k.sh, k.sw, k.ph, k.pw, dtype_name(k.dtype));
}

// Descriptors of one problem: the plain (user) layouts and the "any" ones oneDNN chooses from.
struct ConvDescs {
  explicit ConvDescs(const ConvKey& k) {
    const memory::data_type t = onednn_type(k.dtype);
    const int64_t ho = (k.h + 2 * k.ph - k.kh) / k.sh + 1, wo = (k.w + 2 * k.pw - k.kw) / k.sw + 1;
    src = memory::desc({k.n, k.c, k.h, k.w}, t, tag::nchw);
    dst = memory::desc({k.n, k.o, ho, wo}, t, tag::nchw);
    weights = memory::desc({k.o, k.c, k.kh, k.kw}, t, tag::oihw);
    has_bias = k.bias;
    bias = k.bias ? memory::desc({k.o}, t, tag::x) : memory::desc();
    any_src = memory::desc(src.dims(), t, tag::any);
    any_dst = memory::desc(dst.dims(), t, tag::any);
    any_weights = memory::desc(weights.dims(), t, tag::any);
    strides = {k.sh, k.sw};
    padding = {k.ph, k.pw};  // right = left: oneDNN sizes the output with floor division, as torch
  }
  memory::desc src, dst, weights, bias, any_src, any_dst, any_weights;
  memory::dims strides, padding;
  bool has_bias;

  // The forward descriptor: the primitive of the forward pass, and the hint the backward
  // passes are made against.
  dnnl::convolution_forward::primitive_desc forward_pd() const {
    const auto d =
        has_bias
            ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                              any_src, any_weights, bias, any_dst, strides, padding, padding)
            : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                              any_src, any_weights, any_dst, strides, padding, padding);
    return dnnl::convolution_forward::primitive_desc(d, user_scratchpad_attr(), cpu_engine());
  }
};

// One pass: its primitive and three operands (which is which: plan_forward and the others).
struct ConvPlan {
  dnnl::primitive primitive;
  memory::desc scratchpad, bias;
  Operand a, b, c;
};

using ForwardPd = dnnl::convolution_forward::primitive_desc;

// Forward: a = src, b = weights, c = dst.
void plan_forward(ConvPlan& plan, const ConvDescs& d, const ForwardPd& fwd) {
  plan.primitive = dnnl::convolution_forward(fwd);
  plan.scratchpad = fwd.scratchpad_desc();
  plan.a = Operand(d.src, fwd.src_desc(), true);
  plan.b = Operand(d.weights, fwd.weights_desc(), true);
  plan.c = Operand(d.dst, fwd.dst_desc(), false);
}

// Backward data: a = diff_dst, b = weights, c = diff_src. False where oneDNN has none.
bool plan_backward_data(ConvPlan& plan, const ConvDescs& d, const ForwardPd& fwd, const std::string& shape) {
  const auto pd =
      try_primitive_desc<dnnl::convolution_backward_data::primitive_desc>("convolution backward data", shape, [&] {
        const dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, d.any_src, d.any_weights,
                                                         d.any_dst, d.strides, d.padding, d.padding);
        return dnnl::convolution_backward_data::primitive_desc(desc, user_scratchpad_attr(), cpu_engine(), fwd);
      });
  if (!pd) return false;
  plan.primitive = dnnl::convolution_backward_data(*pd);
  plan.scratchpad = pd->scratchpad_desc();
  plan.a = Operand(d.dst, pd->diff_dst_desc(), true);
  plan.b = Operand(d.weights, pd->weights_desc(), true);
  plan.c = Operand(d.src, pd->diff_src_desc(), false);
  return true;
}

// Backward weights: a = src, b = diff_dst, c = diff_weights (and diff_bias with a bias).
bool plan_backward_weights(ConvPlan& plan, const ConvDescs& d, const ForwardPd& fwd, const std::string& shape) {
  using Desc = dnnl::convolution_backward_weights::desc;
  const auto pd = try_primitive_desc<dnnl::convolution_backward_weights::primitive_desc>(
      "convolution backward weights", shape, [&] {
        const auto algorithm = dnnl::algorithm::convolution_direct;
        const Desc desc =
            d.has_bias ? Desc(algorithm, d.any_src, d.any_weights, d.bias, d.any_dst, d.strides, d.padding, d.padding)
                       : Desc(algorithm, d.any_src, d.any_weights, d.any_dst, d.strides, d.padding, d.padding);
        return dnnl::convolution_backward_weights::primitive_desc(desc, user_scratchpad_attr(), cpu_engine(), fwd);
      });
  if (!pd) return false;
  plan.primitive = dnnl::convolution_backward_weights(*pd);
  plan.scratchpad = pd->scratchpad_desc();
  plan.a = Operand(d.src, pd->src_desc(), true);
  plan.b = Operand(d.dst, pd->diff_dst_desc(), true);
  plan.c = Operand(d.weights, pd->diff_weights_desc(), false);
  return true;
}

std::unique_ptr<ConvPlan> make_plan(const ConvKey& k) {
  const std::string shape = shape_of(k);
  return checked(
      "convolution", [&] { return shape; },
      [&]() -> std::unique_ptr<ConvPlan> {
        const ConvDescs d(k);
        const auto fwd = try_primitive_desc<ForwardPd>("convolution forward", shape, [&] { return d.forward_pd(); });
        if (!fwd) return nullptr;
        auto plan = std::make_unique<ConvPlan>();
        plan->bias = d.bias;
        switch (k.pass) {
          case ConvPass::Forward:
            plan_forward(*plan, d, *fwd);
            return plan;
          case ConvPass::BackwardData:
            return plan_backward_data(*plan, d, *fwd, shape) ? std::move(plan) : nullptr;
          case ConvPass::BackwardWeights:
            return plan_backward_weights(*plan, d, *fwd, shape) ? std::move(plan) : nullptr;
        }
        return nullptr;
      });
}

PlanCache<ConvKey, ConvPlan>& plans() {
  static auto* cache = new PlanCache<ConvKey, ConvPlan>();  // never destroyed: used until exit
  return *cache;
}

// The plan of one pass, or nullptr where oneDNN cannot run it.
const ConvPlan* plan_for(const ConvKey& key) { return plans().get(key, make_plan); }

}  // namespace

bool conv2d_forward(const Conv2dGeometry& g, const Tensor& out, const Tensor& in, const Tensor& weight,
                    const Tensor& bias) {
  const ThreadTeam team;
  const ConvKey key = key_of(ConvPass::Forward, g, in.dtype(), bias.defined(), team.size());
  const ConvPlan* plan = plan_for(key);
  if (plan == nullptr) return false;
  checked(
      "convolution forward", [&] { return shape_of(key); },
      [&] {
        Execution exec;
        const memory src = plan->a.read(exec, in), weights = plan->b.read(exec, weight);
        const memory dst = plan->c.target(exec, out);
        std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
        if (bias.defined()) args.emplace(DNNL_ARG_BIAS, exec.wrap(plan->bias, bias));
        exec.run(plan->primitive, std::move(args), plan->scratchpad);
        plan->c.finish(exec, dst, out);
      });
  return true;
}

namespace {

void run_backward_data(Execution& exec, const ConvPlan& plan, const memory& diff_dst, const Conv2dBackwardArgs& a) {
  const memory weights = plan.b.read(exec, a.weight);
  const memory diff_src = plan.c.target(exec, a.grad_in);
  exec.run(plan.primitive, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, diff_src}},
           plan.scratchpad);
  plan.c.finish(exec, diff_src, a.grad_in);
}

void run_backward_weights(Execution& exec, const ConvPlan& plan, const memory& diff_dst, const Conv2dBackwardArgs& a) {
  const memory src = plan.a.read(exec, a.input);
  const memory diff_weights = plan.c.target(exec, a.grad_weight);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, diff_weights}};
  if (a.grad_bias.defined()) args.emplace(DNNL_ARG_DIFF_BIAS, exec.wrap(plan.bias, a.grad_bias));
  exec.run(plan.primitive, std::move(args), plan.scratchpad);
  plan.c.finish(exec, diff_weights, a.grad_weight);
}

}  // namespace

bool conv2d_backward(const Conv2dGeometry& g, const Conv2dBackwardArgs& a) {
  const ThreadTeam team;
  const DType dtype = a.grad_out.dtype();
  const ConvKey data_key = key_of(ConvPass::BackwardData, g, dtype, false, team.size());
  const ConvKey weights_key = key_of(ConvPass::BackwardWeights, g, dtype, a.grad_bias.defined(), team.size());
  const ConvPlan* data = a.grad_in.defined() ? plan_for(data_key) : nullptr;
  const ConvPlan* weights = a.grad_weight.defined() ? plan_for(weights_key) : nullptr;
  if ((a.grad_in.defined() && data == nullptr) || (a.grad_weight.defined() && weights == nullptr)) return false;
  checked(
      "convolution backward", [&] { return shape_of(data != nullptr ? data_key : weights_key); },
      [&] {
        Execution exec;
        memory diff_dst;  // grad_out in the layout of the first pass, shared when the other takes it too
        if (data != nullptr) {
          diff_dst = data->a.read(exec, a.grad_out);
          run_backward_data(exec, *data, diff_dst, a);
        }
        if (weights != nullptr) {
          const bool shared = data != nullptr && data->a.inner() == weights->b.inner();
          run_backward_weights(exec, *weights, shared ? diff_dst : weights->b.read(exec, a.grad_out), a);
        }
      });
  return true;
}

size_t conv_plan_count() { return plans().size(); }

}  // namespace ember::nn::onednn
