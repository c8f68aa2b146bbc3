// oneDNN spatial batch normalisation on ember's NCHW activations as they are (no reorder:
// oneDNN's float32 batch norm reads plain layouts at full speed; its bfloat16 one does not, so
// bfloat16 comes here widened: onednn_layer_backend.cpp), float32 scale, shift and statistics.
//
// oneDNN's conventions beside torch's (nn/cpu/batch_norm_cpu.cpp has the formulas):
//  - its training forward writes the batch mean and the *biased* variance; ember keeps
//    1/sqrt(var + eps) (save_invstd, as cuDNN and torch do) and updates the running
//    statistics itself (momentum, unbiased variance), which oneDNN does not do;
//  - its backward takes the variance, recovered as 1/invstd^2 - eps: (var + eps) is what
//    oneDNN uses, and it comes back to within a rounding of the forward's.
#include <fmt/format.h>

#include <cmath>

#include "core/ops.h"
#include "nn/onednn/onednn_layers.h"
#include "nn/onednn/onednn_plan.h"

namespace ember::nn::onednn {

namespace {

using dnnl::memory;
using flags = dnnl::normalization_flags;

enum class BnPass { Train, Eval, Backward };

struct BnKey {
  BnPass pass;
  int64_t n, c, h, w;
  DType dtype;
  float eps;
  int threads;
  auto tie() const { return std::tie(pass, n, c, h, w, dtype, eps, threads); }
  bool operator<(const BnKey& other) const { return tie() < other.tie(); }
};

BnKey key_of(BnPass pass, const Tensor& x, double eps, int threads) {
  return {pass, x.size(0), x.size(1), x.size(2), x.size(3), x.dtype(), static_cast<float>(eps), threads};
}

std::string shape_of(const BnKey& k) {
  return fmt::format("input [{}, {}, {}, {}], {}, eps {}", k.n, k.c, k.h, k.w, dtype_name(k.dtype), k.eps);
}

struct BnPlan {
  dnnl::primitive primitive;
  memory::desc data, channel, scale_shift, scratchpad;  // scale_shift [2, C]: the backward's
};

// The flags of each pass. The backward takes weight and bias as one [2, C] tensor
// (use_scale_shift): oneDNN 2.6 counts the separate diff_scale and diff_shift outputs as one
// and rejects the call (invalid_arguments) when both are given.
flags flags_of(BnPass pass) {
  switch (pass) {
    case BnPass::Train:
      return flags::use_scale | flags::use_shift;
    case BnPass::Eval:
      return flags::use_scale | flags::use_shift | flags::use_global_stats;
    case BnPass::Backward:
      return flags::use_scale_shift;
  }
  return flags::none;
}

dnnl::batch_normalization_forward::primitive_desc forward_pd(const BnKey& k, const memory::desc& data) {
  const auto kind = k.pass == BnPass::Eval ? dnnl::prop_kind::forward_inference : dnnl::prop_kind::forward_training;
  const dnnl::batch_normalization_forward::desc d(kind, data, k.eps, flags_of(k.pass));
  return dnnl::batch_normalization_forward::primitive_desc(d, user_scratchpad_attr(), cpu_engine());
}

std::unique_ptr<BnPlan> make_plan(const BnKey& k) {
  const std::string shape = shape_of(k);
  return checked(
      "batch normalization", [&] { return shape; },
      [&]() -> std::unique_ptr<BnPlan> {
        auto plan = std::make_unique<BnPlan>();
        plan->data = memory::desc({k.n, k.c, k.h, k.w}, onednn_type(k.dtype), memory::format_tag::nchw);
        plan->channel = memory::desc({k.c}, memory::data_type::f32, memory::format_tag::x);
        plan->scale_shift = memory::desc({2, k.c}, memory::data_type::f32, memory::format_tag::nc);
        const auto fwd = try_primitive_desc<dnnl::batch_normalization_forward::primitive_desc>(
            "batch normalization forward", shape, [&] { return forward_pd(k, plan->data); });
        if (!fwd) return nullptr;
        if (k.pass != BnPass::Backward) {
          plan->primitive = dnnl::batch_normalization_forward(*fwd);
          plan->scratchpad = fwd->scratchpad_desc();
          return plan;
        }
        const auto bwd = try_primitive_desc<dnnl::batch_normalization_backward::primitive_desc>(
            "batch normalization backward", shape, [&] {
              const dnnl::batch_normalization_backward::desc d(dnnl::prop_kind::backward, plan->data, plan->data, k.eps,
                                                               flags_of(BnPass::Backward));
              return dnnl::batch_normalization_backward::primitive_desc(d, user_scratchpad_attr(), cpu_engine(), *fwd);
            });
        if (!bwd) return nullptr;
        plan->primitive = dnnl::batch_normalization_backward(*bwd);
        plan->scratchpad = bwd->scratchpad_desc();
        return plan;
      });
}

PlanCache<BnKey, BnPlan>& plans() {
  static auto* cache = new PlanCache<BnKey, BnPlan>();  // never destroyed: used until exit
  return *cache;
}

// save_invstd from the biased variance, and the running statistics as torch updates them.
void finish_statistics(const BatchNormTrainArgs& a, const Tensor& var) {
  const int64_t c = a.input.size(1);
  const double m = static_cast<double>(a.input.numel() / c);
  const float* mean = a.save_mean.data<float>();
  const float* v = var.data<float>();
  float* invstd = a.save_invstd.data<float>();
  float* running_mean = a.running_mean.defined() ? a.running_mean.data<float>() : nullptr;
  float* running_var = a.running_var.defined() ? a.running_var.data<float>() : nullptr;
  for (int64_t i = 0; i < c; ++i) {
    invstd[i] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(v[i]) + a.eps));
    if (running_mean != nullptr)
      running_mean[i] = static_cast<float>((1 - a.momentum) * running_mean[i] + a.momentum * mean[i]);
    if (running_var != nullptr)
      running_var[i] = static_cast<float>((1 - a.momentum) * running_var[i] + a.momentum * v[i] * m / (m - 1));
  }
}

// The biased variance oneDNN's backward wants, from the forward's 1/sqrt(var + eps).
Tensor variance_of(const Tensor& save_invstd, double eps) {
  Tensor var = empty(save_invstd.sizes(), save_invstd.options());
  const float* invstd = save_invstd.data<float>();
  float* v = var.data<float>();
  for (int64_t i = 0; i < var.numel(); ++i) {
    const double s = invstd[i];
    v[i] = static_cast<float>(1.0 / (s * s) - eps);
  }
  return var;
}

}  // namespace

bool batch_norm_forward_train(const BatchNormTrainArgs& a) {
  if (a.relu) return false;
  const ThreadTeam team;
  const BnKey key = key_of(BnPass::Train, a.input, a.eps, team.size());
  const BnPlan* plan = plans().get(key, make_plan);
  if (plan == nullptr) return false;
  const Tensor var = empty(a.save_mean.sizes(), a.save_mean.options());
  checked(
      "batch normalization forward", [&] { return shape_of(key); },
      [&] {
        Execution exec;
        exec.run(plan->primitive,
                 {{DNNL_ARG_SRC, exec.wrap(plan->data, a.input)},
                  {DNNL_ARG_DST, exec.wrap(plan->data, a.out)},
                  {DNNL_ARG_SCALE, exec.wrap(plan->channel, a.weight)},
                  {DNNL_ARG_SHIFT, exec.wrap(plan->channel, a.bias)},
                  {DNNL_ARG_MEAN, exec.wrap(plan->channel, a.save_mean)},
                  {DNNL_ARG_VARIANCE, exec.wrap(plan->channel, var)}},
                 plan->scratchpad);
      });
  finish_statistics(a, var);
  return true;
}

bool batch_norm_forward_eval(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias,
                             const Tensor& running_mean, const Tensor& running_var, double eps) {
  const ThreadTeam team;
  const BnKey key = key_of(BnPass::Eval, in, eps, team.size());
  const BnPlan* plan = plans().get(key, make_plan);
  if (plan == nullptr) return false;
  checked(
      "batch normalization forward", [&] { return shape_of(key); },
      [&] {
        Execution exec;
        exec.run(plan->primitive,
                 {{DNNL_ARG_SRC, exec.wrap(plan->data, in)},
                  {DNNL_ARG_DST, exec.wrap(plan->data, out)},
                  {DNNL_ARG_SCALE, exec.wrap(plan->channel, weight)},
                  {DNNL_ARG_SHIFT, exec.wrap(plan->channel, bias)},
                  {DNNL_ARG_MEAN, exec.wrap(plan->channel, running_mean)},
                  {DNNL_ARG_VARIANCE, exec.wrap(plan->channel, running_var)}},
                 plan->scratchpad);
      });
  return true;
}

bool batch_norm_backward(const BatchNormBackwardArgs& a) {
  if (a.bias.defined()) return false;  // the fused relu's backward: not fused here
  const ThreadTeam team;
  const BnKey key = key_of(BnPass::Backward, a.input, a.eps, team.size());
  const BnPlan* plan = plans().get(key, make_plan);
  if (plan == nullptr) return false;
  const Tensor var = variance_of(a.save_invstd, a.eps);
  // [2, C]: weight then the shift the backward does not read; their gradients come back alike.
  const int64_t c = a.weight.numel();
  Tensor scale_shift = zeros({2, c}), diff_scale_shift = empty({2, c});
  scale_shift.select(0, 0).copy_(a.weight);
  checked(
      "batch normalization backward", [&] { return shape_of(key); },
      [&] {
        Execution exec;
        exec.run(plan->primitive,
                 {{DNNL_ARG_SRC, exec.wrap(plan->data, a.input)},
                  {DNNL_ARG_DIFF_DST, exec.wrap(plan->data, a.grad_out)},
                  {DNNL_ARG_MEAN, exec.wrap(plan->channel, a.save_mean)},
                  {DNNL_ARG_VARIANCE, exec.wrap(plan->channel, var)},
                  {DNNL_ARG_SCALE_SHIFT, exec.wrap(plan->scale_shift, scale_shift)},
                  {DNNL_ARG_DIFF_SRC, exec.wrap(plan->data, a.grad_in)},
                  {DNNL_ARG_DIFF_SCALE_SHIFT, exec.wrap(plan->scale_shift, diff_scale_shift)}},
                 plan->scratchpad);
      });
  Tensor(a.grad_weight).copy_(diff_scale_shift.select(0, 0));
  Tensor(a.grad_bias).copy_(diff_scale_shift.select(0, 1));
  return true;
}

size_t batch_norm_plan_count() { return plans().size(); }

}  // namespace ember::nn::onednn
