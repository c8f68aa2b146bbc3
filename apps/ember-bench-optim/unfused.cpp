#include "apps/ember-bench-optim/unfused.h"

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

void UnfusedOptimizer::step() {
  NoGradGuard no_grad;
  using A = optim::Algorithm;
  const optim::Hyperparameters& h = spec_.hyper;
  const double t = double(++steps_);
  if (spec_.algorithm == A::Asgd && steps_ == 1) eta_ = h.lr, mu_ = 1;
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
      case A::NAdam:
      case A::RAdam: adam_variant(p, g, s0, s1, t, i == 0); break;
      case A::Adamax: {
        if (h.weight_decay != 0) g = add(g, p, h.weight_decay);
        s0.add_(g - s0, 1 - h.beta1);
        s1.copy_(maximum(s1 * h.beta2, abs(g) + h.eps));
        p.add_(s0 / s1, -h.lr / (1 - std::pow(h.beta1, t)));
        break;
      }
      case A::Asgd: {
        if (h.weight_decay != 0) g = add(g, p, h.weight_decay);
        p.mul_(1 - h.lambd * eta_);
        p.add_(g, -eta_);
        if (mu_ != 1)
          s0.add_(p - s0, mu_);
        else
          s0.copy_(p);
        break;
      }
      case A::Rprop: {
        // Masks as float 0/1 (ember's comparisons give uint8).
        const Tensor zero = zeros(p.sizes(), p.options()), product = g * s0;
        const Tensor up = gt(product, zero).to(DType::Float32), down = lt(product, zero).to(DType::Float32);
        const Tensor factor = up * (h.eta_plus - 1) + down * (h.eta_minus - 1) + 1.0;
        s1.copy_(minimum(maximum(s1 * factor, full(p.sizes(), h.step_size_min, p.options())),
                         full(p.sizes(), h.step_size_max, p.options())));
        const Tensor kept = g * (1.0 - down);
        p.add_((gt(kept, zero).to(DType::Float32) - lt(kept, zero).to(DType::Float32)) * s1, -1.0);
        s0.copy_(kept);
        break;
      }
      case A::Lion: {
        if (h.weight_decay != 0) p.mul_(1 - h.lr * h.weight_decay);  // decoupled, as bitsandbytes writes it
        const Tensor c = s0 * h.beta1 + g * (1 - h.beta1), zero = zeros(p.sizes(), p.options());
        p.add_(gt(c, zero).to(DType::Float32) - lt(c, zero).to(DType::Float32), -h.lr);
        s0.copy_(s0 * h.beta2 + g * (1 - h.beta2));
        break;
      }
      case A::Adafactor:
      case A::Muon: break;  // rejected by the constructor
    }
  }
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
