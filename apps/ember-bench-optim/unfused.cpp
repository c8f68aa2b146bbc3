#include "apps/ember-bench-optim/unfused.h"

#include <cmath>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"

namespace ember::bench {

UnfusedOptimizer::UnfusedOptimizer(const optim::OptimizerSpec& spec, std::vector<Tensor> params,
                                   std::vector<Tensor> grads)
    : spec_(spec), params_(std::move(params)), grads_(std::move(grads)) {
  const double init = spec.algorithm == optim::Algorithm::Adagrad ? spec.hyper.initial_accumulator_value : 0.0;
  const unsigned needed =
      kernels::visit_optim_rule(spec.algorithm, [&](auto rule) { return decltype(rule)::slots_needed(spec.hyper); });
  for (int k = 0; k < 3; ++k)
    for (const Tensor& p : params_)
      state_[k].push_back((needed >> k) & 1u ? full(p.sizes(), init, p.options()) : Tensor());
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

}  // namespace

void UnfusedOptimizer::step() {
  NoGradGuard no_grad;
  using A = optim::Algorithm;
  const Hyperparameters& h = spec_.hyper;
  const double t = double(++steps_);
  for (size_t i = 0; i < params_.size(); ++i) {
    Slot x{params_[i], h.maximize ? neg(grads_[i]) : grads_[i], state_[0][i], state_[1][i], state_[2][i]};
    switch (spec_.algorithm) {
      case A::Sgd: sgd(h, x, steps_); break;
      case A::RmsProp: rmsprop(h, x); break;
      case A::Adagrad: adagrad(h, x, t); break;
      case A::Adadelta: adadelta(h, x); break;
      case A::Adam:
      case A::AdamW: adam(h, x, t, spec_.algorithm == A::AdamW); break;
    }
  }
}

}  // namespace ember::bench
