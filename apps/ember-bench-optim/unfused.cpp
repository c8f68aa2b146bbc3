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

void UnfusedOptimizer::step() {
  NoGradGuard no_grad;
  using A = optim::Algorithm;
  const optim::Hyperparameters& h = spec_.hyper;
  const double t = double(++steps_);
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor p = params_[i];
    Tensor g = h.maximize ? neg(grads_[i]) : grads_[i];
    Tensor& s0 = state_[0][i];
    Tensor& s1 = state_[1][i];
    Tensor& s2 = state_[2][i];
    switch (spec_.algorithm) {
      case A::Sgd:
        if (h.weight_decay != 0) g = add(g, p, h.weight_decay);
        if (h.momentum != 0) {
          if (steps_ == 1) {
            s0.copy_(g);
          } else {
            s0.mul_(h.momentum);
            s0.add_(g, 1 - h.dampening);
          }
          g = h.nesterov ? add(g, s0, h.momentum) : s0;
        }
        p.add_(g, -h.lr);
        break;
      case A::RmsProp: {
        if (h.weight_decay != 0) g = add(g, p, h.weight_decay);
        s0.mul_(h.alpha);
        s0.add_(g * g, 1 - h.alpha);
        Tensor avg;
        if (h.centered) {
          s2.add_(g - s2, 1 - h.alpha);
          avg = sqrt(s0 - s2 * s2);
        } else {
          avg = sqrt(s0);
        }
        avg = avg + h.eps;
        if (h.momentum > 0) {
          s1.mul_(h.momentum);
          s1.add_(g / avg);
          p.add_(s1, -h.lr);
        } else {
          p.add_(g / avg, -h.lr);
        }
        break;
      }
      case A::Adagrad: {
        if (h.weight_decay != 0) g = add(g, p, h.weight_decay);
        const double clr = h.lr / (1 + (t - 1) * h.lr_decay);
        s0.add_(g * g);
        p.add_(g / (sqrt(s0) + h.eps), -clr);
        break;
      }
      case A::Adadelta: {
        if (h.weight_decay != 0) g = add(g, p, h.weight_decay);
        s0.mul_(h.rho);
        s0.add_(g * g, 1 - h.rho);
        const Tensor delta = sqrt(s1 + h.eps) / sqrt(s0 + h.eps) * g;
        s1.mul_(h.rho);
        s1.add_(delta * delta, 1 - h.rho);
        p.add_(delta, -h.lr);
        break;
      }
      case A::Adam:
      case A::AdamW: {
        if (h.weight_decay != 0) {
          if (spec_.algorithm == A::AdamW)
            p.mul_(1 - h.lr * h.weight_decay);
          else
            g = add(g, p, h.weight_decay);
        }
        s0.add_(g - s0, 1 - h.beta1);
        s1.mul_(h.beta2);
        s1.add_(g * g, 1 - h.beta2);
        const double bias_correction1 = 1 - std::pow(h.beta1, t);
        const double bias_correction2_sqrt = std::sqrt(1 - std::pow(h.beta2, t));
        Tensor second = s1;
        if (h.amsgrad) {
          s2.copy_(maximum(s2, s1));
          second = s2;
        }
        const Tensor denom = sqrt(second) / bias_correction2_sqrt + h.eps;
        p.add_(s0 / denom, -h.lr / bias_correction1);
        break;
      }
    }
  }
}

}  // namespace ember::bench
