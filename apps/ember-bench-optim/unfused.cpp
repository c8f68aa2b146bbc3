#include "apps/ember-bench-optim/unfused.h"

#include <algorithm>
#include <cmath>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"

namespace ember::bench {

UnfusedOptimizer::UnfusedOptimizer(const optim::OptimizerSpec& spec, std::vector<Tensor> params,
                                   std::vector<Tensor> grads)
    : spec_(spec), params_(std::move(params)), grads_(std::move(grads)) {
  EMBER_CHECK(kernels::is_elementwise(spec.algorithm), "the unfused baseline has element-wise optimisers only, not {}",
              spec.name);
  const unsigned needed =
      kernels::visit_optim_rule(spec.algorithm, [&](auto rule) { return decltype(rule)::slots_needed(spec.hyper); });
  for (int k = 0; k < 3; ++k) {
    // torch's initial state: Adagrad's sum, Rprop's step sizes (slot 1); zeros otherwise.
    double init = 0.0;
    if (spec.algorithm == optim::Algorithm::Adagrad && k == 0) init = spec.hyper.initial_accumulator_value;
    if (spec.algorithm == optim::Algorithm::Rprop && k == 1) init = spec.hyper.lr;
    for (const Tensor& p : params_)
      state_[k].push_back((needed >> k) & 1u ? full(p.sizes(), init, p.options()) : Tensor());
  }
  eta_ = spec.hyper.lr;  // ASGD's scalars at the first step
}

namespace {

using optim::Hyperparameters;

// One parameter tensor in a step: updated in place from its gradient (negated under
// maximize) and its state tensors (torch's names in the rule's slot order).
struct Slot {
  Tensor param, grad;
  Tensor &s0, &s1, &s2;
};

void sgd(const Hyperparameters& h, Slot& x, int64_t step) {
  Tensor g = x.grad;
  if (h.weight_decay != 0) g = add(g, x.param, h.weight_decay);
  if (h.momentum != 0) {
    if (step == 1) {
      x.s0.copy_(g);
    } else {
      x.s0.mul_(h.momentum);
      x.s0.add_(g, 1 - h.dampening);
    }
    g = h.nesterov ? add(g, x.s0, h.momentum) : x.s0;
  }
  x.param.add_(g, -h.lr);
}

void rmsprop(const Hyperparameters& h, Slot& x) {
  Tensor g = x.grad;
  if (h.weight_decay != 0) g = add(g, x.param, h.weight_decay);
  x.s0.mul_(h.alpha);
  x.s0.add_(g * g, 1 - h.alpha);
  Tensor avg;
  if (h.centered) {
    x.s2.add_(g - x.s2, 1 - h.alpha);
    avg = sqrt(x.s0 - x.s2 * x.s2);
  } else {
    avg = sqrt(x.s0);
  }
  avg = avg + h.eps;
  if (h.momentum > 0) {
    x.s1.mul_(h.momentum);
    x.s1.add_(g / avg);
    x.param.add_(x.s1, -h.lr);
  } else {
    x.param.add_(g / avg, -h.lr);
  }
}

void adagrad(const Hyperparameters& h, Slot& x, double t) {
  Tensor g = x.grad;
  if (h.weight_decay != 0) g = add(g, x.param, h.weight_decay);
  const double clr = h.lr / (1 + (t - 1) * h.lr_decay);
  x.s0.add_(g * g);
  x.param.add_(g / (sqrt(x.s0) + h.eps), -clr);
}

void adadelta(const Hyperparameters& h, Slot& x) {
  Tensor g = x.grad;
  if (h.weight_decay != 0) g = add(g, x.param, h.weight_decay);
  x.s0.mul_(h.rho);
  x.s0.add_(g * g, 1 - h.rho);
  const Tensor delta = sqrt(x.s1 + h.eps) / sqrt(x.s0 + h.eps) * g;
  x.s1.mul_(h.rho);
  x.s1.add_(delta * delta, 1 - h.rho);
  x.param.add_(delta, -h.lr);
}

void adam(const Hyperparameters& h, Slot& x, double t, bool decoupled_weight_decay) {
  Tensor g = x.grad;
  if (h.weight_decay != 0) {
    if (decoupled_weight_decay)
      x.param.mul_(1 - h.lr * h.weight_decay);
    else
      g = add(g, x.param, h.weight_decay);
  }
  x.s0.add_(g - x.s0, 1 - h.beta1);
  x.s1.mul_(h.beta2);
  x.s1.add_(g * g, 1 - h.beta2);
  const double bias_correction1 = 1 - std::pow(h.beta1, t);
  const double bias_correction2_sqrt = std::sqrt(1 - std::pow(h.beta2, t));
  Tensor second = x.s1;
  if (h.amsgrad) {
    x.s2.copy_(maximum(x.s2, x.s1));
    second = x.s2;
  }
  const Tensor denom = sqrt(second) / bias_correction2_sqrt + h.eps;
  x.param.add_(x.s0 / denom, -h.lr / bias_correction1);
}


void adamax(const Hyperparameters& h, Slot& x, double t) {
  Tensor g = x.grad;
  if (h.weight_decay != 0) g = add(g, x.param, h.weight_decay);
  x.s0.add_(g - x.s0, 1 - h.beta1);
  x.s1.copy_(maximum(x.s1 * h.beta2, abs(g) + h.eps));
  x.param.add_(x.s0 / x.s1, -h.lr / (1 - std::pow(h.beta1, t)));
}

// eta and mu: the step's scalars, computed once per step as torch does.
void asgd(const Hyperparameters& h, Slot& x, double eta, double mu) {
  Tensor g = x.grad;
  if (h.weight_decay != 0) g = add(g, x.param, h.weight_decay);
  x.param.mul_(1 - h.lambd * eta);
  x.param.add_(g, -eta);
  if (mu != 1)
    x.s0.add_(x.param - x.s0, mu);
  else
    x.s0.copy_(x.param);
}

// 1 where a > 0, -1 where a < 0, 0 elsewhere, as float (ember's comparisons give uint8).
Tensor sign_of(const Tensor& a) {
  const Tensor zero = zeros(a.sizes(), a.options());
  return gt(a, zero).to(DType::Float32) - lt(a, zero).to(DType::Float32);
}

void rprop(const Hyperparameters& h, Slot& x) {
  const Tensor& g = x.grad;
  const Tensor zero = zeros(g.sizes(), g.options()), product = g * x.s0;
  const Tensor up = gt(product, zero).to(DType::Float32), down = lt(product, zero).to(DType::Float32);
  const Tensor factor = up * (h.eta_plus - 1) + down * (h.eta_minus - 1) + 1.0;
  x.s1.copy_(minimum(maximum(x.s1 * factor, full(g.sizes(), h.step_size_min, g.options())),
                     full(g.sizes(), h.step_size_max, g.options())));
  const Tensor kept = g * (1.0 - down);
  x.param.add_(sign_of(kept) * x.s1, -1.0);
  x.s0.copy_(kept);
}

void lion(const Hyperparameters& h, Slot& x) {
  if (h.weight_decay != 0) x.param.mul_(1 - h.lr * h.weight_decay);  // decoupled, as bitsandbytes writes it
  x.param.add_(sign_of(x.s0 * h.beta1 + x.grad * (1 - h.beta1)), -h.lr);
  x.s0.copy_(x.s0 * h.beta2 + x.grad * (1 - h.beta2));
}

// Schedule-Free AdamW (adam) and SGD: the schedulefree package's step, op by op, with its
// per-step scalars `s` (kernels::schedulefree_scalars); slot 0 z, slot 1 exp_avg_sq.
void schedule_free(const Hyperparameters& h, Slot& x, const kernels::ScheduleFreeScalars& s, int64_t step, bool adam) {
  if (step == 1) x.s0.copy_(x.param);  // z = clone(p)
  Tensor g = x.grad;
  if (adam) {
    x.s1.mul_(h.beta2);
    x.s1.add_(g * g, 1 - h.beta2);
    g = g / (sqrt(x.s1 / (1 - std::pow(h.beta2, double(step)))) + h.eps);
  }
  if (h.weight_decay != 0) g = add(g, x.param, h.weight_decay);
  const double beta1 = adam ? h.beta1 : h.momentum;
  x.param.add_(x.s0 - x.param, s.ckp1);  // lerp(y, z, ckp1)
  x.param.add_(g, s.lr * (beta1 * (1 - s.ckp1) - 1));
  x.s0.add_(g, -s.lr);
}

}  // namespace

void UnfusedOptimizer::step() {
  NoGradGuard no_grad;
  using A = optim::Algorithm;
  const Hyperparameters& h = spec_.hyper;
  const double t = double(++steps_);
  if (spec_.algorithm == A::Asgd && steps_ == 1) eta_ = h.lr, mu_ = 1;
  const kernels::ScheduleFreeScalars sf = kernels::schedulefree_scalars(h, steps_, h.lr, sf_scalars_);
  for (size_t i = 0; i < params_.size(); ++i) {
    Slot x{params_[i], h.maximize ? neg(grads_[i]) : grads_[i], state_[0][i], state_[1][i], state_[2][i]};
    switch (spec_.algorithm) {
      case A::Sgd: sgd(h, x, steps_); break;
      case A::RmsProp: rmsprop(h, x); break;
      case A::Adagrad: adagrad(h, x, t); break;
      case A::Adadelta: adadelta(h, x); break;
      case A::Adam:
      case A::AdamW: adam(h, x, t, spec_.algorithm == A::AdamW); break;
      case A::NAdam:
      case A::RAdam: adam_variant(x.param, x.grad, x.s0, x.s1, t, i == 0); break;
      case A::Adamax: adamax(h, x, t); break;
      case A::Asgd: asgd(h, x, eta_, mu_); break;
      case A::Rprop: rprop(h, x); break;
      case A::Lion: lion(h, x); break;
      case A::SfAdamW:
      case A::SfSgd: schedule_free(h, x, sf, steps_, spec_.algorithm == A::SfAdamW); break;
      case A::Adafactor:
      case A::Muon: break;  // rejected by the constructor
    }
  }
  sf_scalars_.v[0] = sf.weight_sum, sf_scalars_.v[1] = sf.lr_max;
  if (spec_.algorithm == A::Asgd) {
    eta_ = h.lr / std::pow(1 + h.lambd * h.lr * t, h.alpha);
    mu_ = 1 / std::max(1.0, t - h.t0);
  }
}

// NAdam and RAdam: Adam's moments, then each one's own update.
void UnfusedOptimizer::adam_variant(Tensor& p, Tensor& g, Tensor& m, Tensor& v, double t, bool first_tensor) {
  const optim::Hyperparameters& h = spec_.hyper;
  if (h.weight_decay != 0) {
    if (h.decoupled_weight_decay)
      p.mul_(1 - h.lr * h.weight_decay);
    else
      g = add(g, p, h.weight_decay);
  }
  m.add_(g - m, 1 - h.beta1);
  v.mul_(h.beta2);
  v.add_(g * g, 1 - h.beta2);
  const double bias_correction2 = 1 - std::pow(h.beta2, t);
  if (spec_.algorithm == optim::Algorithm::NAdam) {
    const double mu = h.beta1 * (1 - 0.5 * std::pow(0.96, t * h.momentum_decay));
    const double mu_next = h.beta1 * (1 - 0.5 * std::pow(0.96, (t + 1) * h.momentum_decay));
    if (first_tensor) mu_product_ *= mu;  // one product per step, shared by every tensor
    const Tensor denom = sqrt(v / bias_correction2) + h.eps;
    p.add_(g / denom, -h.lr * (1 - mu) / (1 - mu_product_));
    p.add_(m / denom, -h.lr * mu_next / (1 - mu_product_ * mu_next));
    return;
  }
  const double rho_inf = 2 / (1 - h.beta2) - 1;
  const double rho_t = rho_inf - 2 * t * std::pow(h.beta2, t) / bias_correction2;
  const Tensor corrected = m / (1 - std::pow(h.beta1, t));
  if (rho_t <= 5) {
    p.add_(corrected, -h.lr);
    return;
  }
  const double rect = std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
  p.add_(corrected / (sqrt(v) + h.eps), -h.lr * rect * std::sqrt(bias_correction2));
}

}  // namespace ember::bench
