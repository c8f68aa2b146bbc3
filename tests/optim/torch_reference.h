// An independent, literal transcription of torch.optim's single-tensor algorithms
// (_single_tensor_sgd, _rmsprop, _adagrad, _adadelta, _adam, _nadam, _radam, _adamax, _asgd,
// _rprop in torch/optim/*.py, torch 2.x; Lion, not in torch, from its paper; Schedule-Free
// AdamW and SGD from the schedulefree package's AdamWScheduleFree and SGDScheduleFree) in double
// precision: one function per torch tensor op, called in torch's order, with torch's
// Python-level branches and lazy state. The scalar state torch keeps in float32 0-dim tensors
// whatever the parameter's dtype (NAdam's mu_product, ASGD's eta and mu: torch's
// _get_scalar_dtype()) is kept in float32 here too.
// It shares no code with kernels/optim_rules.h; tests compare the two.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/optim_rules.h"

namespace ember::testing::torch_ref {

using Vec = std::vector<double>;

// --- torch tensor ops, elementwise
inline Vec neg(const Vec& a) {
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = -a[i];
  return r;
}
inline Vec add(const Vec& a, const Vec& b, double alpha = 1) {  // a.add(b, alpha=alpha)
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] + alpha * b[i];
  return r;
}
inline Vec add_scalar(const Vec& a, double s) {  // a.add(s)
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] + s;
  return r;
}
inline Vec mul(const Vec& a, double s) {  // a.mul(s)
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] * s;
  return r;
}
inline Vec mul(const Vec& a, const Vec& b) {  // a.mul(b)
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] * b[i];
  return r;
}
inline Vec div(const Vec& a, const Vec& b) {
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] / b[i];
  return r;
}
inline Vec div(const Vec& a, double s) {
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] / s;
  return r;
}
inline Vec sqrt(const Vec& a) {
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = std::sqrt(a[i]);
  return r;
}
inline Vec addcmul(const Vec& a, const Vec& b, const Vec& c, double value) {  // a + value * b * c
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] + value * b[i] * c[i];
  return r;
}
inline Vec addcdiv(const Vec& a, const Vec& b, const Vec& c, double value) {  // a + value * (b / c)
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] + value * (b[i] / c[i]);
  return r;
}
inline Vec lerp(const Vec& a, const Vec& b, double w) {  // ATen's lerp
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i)
    r[i] = std::fabs(w) < 0.5 ? a[i] + w * (b[i] - a[i]) : b[i] - (b[i] - a[i]) * (1 - w);
  return r;
}
inline Vec abs(const Vec& a) {
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = std::fabs(a[i]);
  return r;
}
inline Vec reciprocal(const Vec& a) {
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = 1 / a[i];
  return r;
}
inline Vec sign(const Vec& a) {  // torch.sign: 0 for NaN
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] > 0 ? 1 : (a[i] < 0 ? -1 : 0);
  return r;
}
inline Vec clamp(const Vec& a, double low, double high) {
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = std::isnan(a[i]) ? a[i] : std::min(std::max(a[i], low), high);
  return r;
}
inline Vec maximum(const Vec& a, const Vec& b) {
  Vec r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = (std::isnan(a[i]) || std::isnan(b[i])) ? NAN : std::max(a[i], b[i]);
  return r;
}

// The optimiser with torch's per-parameter state. `state(name)` gives torch's state tensors
// (empty until torch would have created them).
class Optimizer {
 public:
  Optimizer(kernels::OptimAlgorithm algorithm, const kernels::OptimHyper& h, size_t n)
      : algorithm_(algorithm), h_(h), n_(n) {
    using A = kernels::OptimAlgorithm;
    if (algorithm == A::Adagrad) sum_ = Vec(n, h.initial_accumulator_value);  // torch.full_like
    if (algorithm == A::RmsProp) {
      square_avg_ = Vec(n, 0.0);
      if (h.momentum > 0) momentum_buffer_ = Vec(n, 0.0);
      if (h.centered) grad_avg_ = Vec(n, 0.0);
    }
    if (algorithm == A::Adadelta) square_avg_ = acc_delta_ = Vec(n, 0.0);
    if (algorithm == A::Adam || algorithm == A::AdamW) {
      exp_avg_ = exp_avg_sq_ = Vec(n, 0.0);
      if (h.amsgrad) max_exp_avg_sq_ = Vec(n, 0.0);
    }
    if (algorithm == A::NAdam || algorithm == A::RAdam) exp_avg_ = exp_avg_sq_ = Vec(n, 0.0);
    if (algorithm == A::Adamax) exp_avg_ = exp_inf_ = Vec(n, 0.0);
    if (algorithm == A::Asgd) ax_ = Vec(n, 0.0);
    if (algorithm == A::Rprop) prev_ = Vec(n, 0.0);  // step_size: full_like(grad, lr) at the first step
    if (algorithm == A::Lion) exp_avg_ = Vec(n, 0.0);
    if (algorithm == A::SfAdamW) exp_avg_sq_ = Vec(n, 0.0);  // z: a clone of p at the first step
  }

  void step(Vec& param, const Vec& grad) {
    using A = kernels::OptimAlgorithm;
    ++step_;
    switch (algorithm_) {
      case A::Sgd: sgd(param, grad); break;
      case A::RmsProp: rmsprop(param, grad); break;
      case A::Adagrad: adagrad(param, grad); break;
      case A::Adadelta: adadelta(param, grad); break;
      case A::Adam: adam(param, grad, false); break;
      case A::AdamW: adam(param, grad, true); break;
      case A::NAdam: nadam(param, grad); break;
      case A::RAdam: radam(param, grad); break;
      case A::Adamax: adamax(param, grad); break;
      case A::Asgd: asgd(param, grad); break;
      case A::Rprop: rprop(param, grad); break;
      case A::Lion: lion(param, grad); break;
      case A::SfAdamW: schedule_free(param, grad, true); break;
      case A::SfSgd: schedule_free(param, grad, false); break;
      case A::Adafactor:
      case A::Muon: break;  // tests/optim/torch_reference_matrix.h
    }
  }

  const Vec& state(const std::string& name) const {
    if (name == "momentum_buffer") return momentum_buffer_;
    if (name == "square_avg") return square_avg_;
    if (name == "grad_avg") return grad_avg_;
    if (name == "sum") return sum_;
    if (name == "acc_delta") return acc_delta_;
    if (name == "exp_avg") return exp_avg_;
    if (name == "exp_avg_sq") return exp_avg_sq_;
    if (name == "exp_inf") return exp_inf_;
    if (name == "z") return z_;
    if (name == "ax") return ax_;
    if (name == "prev") return prev_;
    if (name == "step_size") return step_size_;
    return max_exp_avg_sq_;
  }
  // torch's float32 scalar state: NAdam's mu_product, ASGD's eta and mu; the schedulefree
  // package's Python floats weight_sum and lr_max.
  double scalar(const std::string& name) const {
    if (name == "weight_sum") return weight_sum_;
    if (name == "lr_max") return lr_max_;
    if (name == "mu_product") return mu_product_;
    if (name == "eta") return eta_;
    return mu_;
  }

 private:
  void sgd(Vec& param, const Vec& grad_in) {
    Vec grad = h_.maximize ? neg(grad_in) : grad_in;
    if (h_.weight_decay != 0) grad = add(grad, param, h_.weight_decay);
    if (h_.momentum != 0) {
      if (momentum_buffer_.empty()) {  // buf is None: buf = clone(grad)
        momentum_buffer_ = grad;
      } else {
        momentum_buffer_ = add(mul(momentum_buffer_, h_.momentum), grad, 1 - h_.dampening);
      }
      if (h_.nesterov)
        grad = add(grad, momentum_buffer_, h_.momentum);
      else
        grad = momentum_buffer_;
    }
    param = add(param, grad, -h_.lr);
  }

  void rmsprop(Vec& param, const Vec& grad_in) {
    Vec grad = h_.maximize ? neg(grad_in) : grad_in;
    if (h_.weight_decay != 0) grad = add(grad, param, h_.weight_decay);
    square_avg_ = addcmul(mul(square_avg_, h_.alpha), grad, grad, 1 - h_.alpha);
    Vec avg;
    if (h_.centered) {
      grad_avg_ = lerp(grad_avg_, grad, 1 - h_.alpha);
      avg = sqrt(addcmul(square_avg_, grad_avg_, grad_avg_, -1));
    } else {
      avg = sqrt(square_avg_);
    }
    avg = add_scalar(avg, h_.eps);
    if (h_.momentum > 0) {
      momentum_buffer_ = addcdiv(mul(momentum_buffer_, h_.momentum), grad, avg, 1);
      param = add(param, momentum_buffer_, -h_.lr);
    } else {
      param = addcdiv(param, grad, avg, -h_.lr);
    }
  }

  void adagrad(Vec& param, const Vec& grad_in) {
    const double step = double(step_);
    Vec grad = h_.maximize ? neg(grad_in) : grad_in;
    if (h_.weight_decay != 0) grad = add(grad, param, h_.weight_decay);
    const double clr = h_.lr / (1 + (step - 1) * h_.lr_decay);
    sum_ = addcmul(sum_, grad, grad, 1);
    const Vec std_dev = add_scalar(sqrt(sum_), h_.eps);
    param = addcdiv(param, grad, std_dev, -clr);
  }

  void adadelta(Vec& param, const Vec& grad_in) {
    Vec grad = h_.maximize ? neg(grad_in) : grad_in;
    if (h_.weight_decay != 0) grad = add(grad, param, h_.weight_decay);
    square_avg_ = addcmul(mul(square_avg_, h_.rho), grad, grad, 1 - h_.rho);
    const Vec std_dev = sqrt(add_scalar(square_avg_, h_.eps));
    Vec delta = sqrt(add_scalar(acc_delta_, h_.eps));
    delta = mul(div(delta, std_dev), grad);
    acc_delta_ = addcmul(mul(acc_delta_, h_.rho), delta, delta, 1 - h_.rho);
    param = add(param, delta, -h_.lr);
  }

  void adam(Vec& param, const Vec& grad_in, bool decoupled) {
    Vec grad = h_.maximize ? neg(grad_in) : grad_in;
    const double step = double(step_);
    if (h_.weight_decay != 0) {
      if (decoupled)
        param = mul(param, 1 - h_.lr * h_.weight_decay);
      else
        grad = add(grad, param, h_.weight_decay);
    }
    exp_avg_ = lerp(exp_avg_, grad, 1 - h_.beta1);
    exp_avg_sq_ = addcmul(mul(exp_avg_sq_, h_.beta2), grad, grad, 1 - h_.beta2);
    const double bias_correction1 = 1 - std::pow(h_.beta1, step);
    const double bias_correction2 = 1 - std::pow(h_.beta2, step);
    const double step_size = h_.lr / bias_correction1;
    const double bias_correction2_sqrt = std::sqrt(bias_correction2);
    Vec denom;
    if (h_.amsgrad) {
      max_exp_avg_sq_ = maximum(max_exp_avg_sq_, exp_avg_sq_);
      denom = add_scalar(div(sqrt(max_exp_avg_sq_), bias_correction2_sqrt), h_.eps);
    } else {
      denom = add_scalar(div(sqrt(exp_avg_sq_), bias_correction2_sqrt), h_.eps);
    }
    param = addcdiv(param, exp_avg_, denom, -step_size);
  }

  void nadam(Vec& param, const Vec& grad_in) {
    Vec grad = h_.maximize ? neg(grad_in) : grad_in;
    const double step = double(step_);
    const double bias_correction2 = 1 - std::pow(h_.beta2, step);
    if (h_.weight_decay != 0) {
      if (h_.decoupled_weight_decay)
        param = mul(param, 1 - h_.lr * h_.weight_decay);
      else
        grad = add(grad, param, h_.weight_decay);
    }
    const double mu = h_.beta1 * (1.0 - 0.5 * std::pow(0.96, step * h_.momentum_decay));
    const double mu_next = h_.beta1 * (1.0 - 0.5 * std::pow(0.96, (step + 1) * h_.momentum_decay));
    mu_product_ = float(float(mu_product_) * float(mu));  // a float32 tensor times a Python float
    exp_avg_ = lerp(exp_avg_, grad, 1 - h_.beta1);
    exp_avg_sq_ = addcmul(mul(exp_avg_sq_, h_.beta2), grad, grad, 1 - h_.beta2);
    Vec denom = sqrt(div(exp_avg_sq_, bias_correction2));
    const double mu_product_next = mu_product_ * mu_next;
    denom = add_scalar(denom, h_.eps);
    param = addcdiv(param, grad, denom, -h_.lr * (1.0 - mu) / (1.0 - mu_product_));
    param = addcdiv(param, exp_avg_, denom, (-h_.lr * mu_next) / (1.0 - mu_product_next));
  }

  void radam(Vec& param, const Vec& grad_in) {
    Vec grad = h_.maximize ? neg(grad_in) : grad_in;
    const double step = double(step_);
    if (h_.weight_decay != 0) {
      if (h_.decoupled_weight_decay)
        param = mul(param, 1 - h_.lr * h_.weight_decay);
      else
        grad = add(grad, param, h_.weight_decay);
    }
    exp_avg_ = lerp(exp_avg_, grad, 1 - h_.beta1);
    exp_avg_sq_ = addcmul(mul(exp_avg_sq_, h_.beta2), grad, grad, 1 - h_.beta2);
    const double bias_correction1 = 1 - std::pow(h_.beta1, step);
    const double bias_correction2 = 1 - std::pow(h_.beta2, step);
    const Vec bias_corrected_exp_avg = div(exp_avg_, bias_correction1);
    const double rho_inf = 2 / (1 - h_.beta2) - 1;
    const double rho_t = rho_inf - 2 * step * std::pow(h_.beta2, step) / bias_correction2;
    if (rho_t > 5.0) {
      const double rect = std::pow((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.5);
      // (bias_correction2 ** 0.5) / tensor is tensor.reciprocal() * scalar in Python.
      const Vec adaptive_lr = mul(reciprocal(add_scalar(sqrt(exp_avg_sq_), h_.eps)), std::pow(bias_correction2, 0.5));
      param = add(param, mul(mul(mul(bias_corrected_exp_avg, h_.lr), adaptive_lr), rect), -1.0);
    } else {
      param = add(param, mul(bias_corrected_exp_avg, h_.lr), -1.0);
    }
  }

  void adamax(Vec& param, const Vec& grad_in) {
    Vec grad = h_.maximize ? neg(grad_in) : grad_in;
    if (h_.weight_decay != 0) grad = add(grad, param, h_.weight_decay);
    exp_avg_ = lerp(exp_avg_, grad, 1 - h_.beta1);
    exp_inf_ = maximum(mul(exp_inf_, h_.beta2), add_scalar(abs(grad), h_.eps));
    const double clr = h_.lr / (1 - std::pow(h_.beta1, double(step_)));
    param = addcdiv(param, exp_avg_, exp_inf_, -clr);
  }

  void asgd(Vec& param, const Vec& grad_in) {
    Vec grad = h_.maximize ? neg(grad_in) : grad_in;
    if (step_ == 1) eta_ = float(h_.lr), mu_ = 1.0f;  // state created at the first step
    if (h_.weight_decay != 0) grad = add(grad, param, h_.weight_decay);
    const double eta = eta_;
    param = mul(param, 1 - h_.lambd * eta);
    param = add(param, grad, -eta);
    if (mu_ != 1)
      ax_ = add(ax_, mul(add(param, ax_, -1.0), double(mu_)));
    else
      ax_ = param;
    const double step = double(step_);
    eta_ = float(h_.lr / std::pow(1 + h_.lambd * h_.lr * step, h_.alpha));
    mu_ = float(1 / std::max(1.0, step - h_.t0));
  }

  void rprop(Vec& param, const Vec& grad_in) {
    Vec grad = h_.maximize ? neg(grad_in) : grad_in;
    if (step_ == 1) step_size_ = Vec(param.size(), h_.lr);
    Vec factor = sign(mul(grad, prev_));  // torch's `sign`, then overwritten with the factors
    for (double& x : factor) x = x > 0 ? h_.eta_plus : (x < 0 ? h_.eta_minus : 1.0);
    step_size_ = clamp(mul(step_size_, factor), h_.step_size_min, h_.step_size_max);
    for (size_t i = 0; i < grad.size(); ++i)
      if (factor[i] == h_.eta_minus) grad[i] = 0;
    param = addcmul(param, sign(grad), step_size_, -1);
    prev_ = grad;
  }

  // Lion is not in torch: the paper's Algorithm 2 (Chen et al. 2023), decoupled weight decay.
  void lion(Vec& param, const Vec& grad_in) {
    const Vec grad = h_.maximize ? neg(grad_in) : grad_in;
    const Vec c = add(mul(exp_avg_, h_.beta1), grad, 1 - h_.beta1);
    param = add(param, add(sign(c), param, h_.weight_decay), -h_.lr);
    exp_avg_ = add(mul(exp_avg_, h_.beta2), grad, 1 - h_.beta2);
  }

  // The schedulefree package's step (AdamWScheduleFree with adam, SGDScheduleFree without),
  // its per-tensor branch: group scalars in Python floats, then the tensor ops in order.
  void schedule_free(Vec& y, const Vec& grad_in, bool adam) {
    const double k = double(step_ - 1), beta1 = adam ? h_.beta1 : h_.momentum;
    const double sched = k < h_.warmup_steps ? (k + 1) / h_.warmup_steps : 1.0;
    const double lr = h_.lr * sched;
    lr_max_ = std::max(lr_max_, lr);  // max(lr, lr_max): lr unless lr_max is larger
    const double weight = std::pow(k + 1, h_.r) * std::pow(lr_max_, h_.weight_lr_power);
    weight_sum_ += weight;
    const double ckp1 = weight_sum_ != 0 ? weight / weight_sum_ : 0.0;  // ZeroDivisionError: 0
    if (z_.empty()) z_ = y;
    Vec grad = grad_in;
    if (adam) {
      const double bias_correction2 = 1 - std::pow(h_.beta2, k + 1);
      exp_avg_sq_ = addcmul(mul(exp_avg_sq_, h_.beta2), grad, grad, 1 - h_.beta2);
      grad = div(grad, add_scalar(sqrt(div(exp_avg_sq_, bias_correction2)), h_.eps));
    }
    if (h_.weight_decay != 0) grad = add(grad, y, h_.weight_decay);
    y = lerp(y, z_, ckp1);
    y = add(y, grad, lr * (beta1 * (1 - ckp1) - 1));
    z_ = add(z_, grad, -lr);
  }

  kernels::OptimAlgorithm algorithm_;
  kernels::OptimHyper h_;
  size_t n_;
  int64_t step_ = 0;
  Vec momentum_buffer_, square_avg_, grad_avg_, sum_, acc_delta_, exp_avg_, exp_avg_sq_, max_exp_avg_sq_, exp_inf_, ax_,
      prev_, step_size_;
  float mu_product_ = 1.0f, eta_ = 0.0f, mu_ = 1.0f;
  Vec z_;
  double weight_sum_ = 0.0, lr_max_ = -1.0;
};

}  // namespace ember::testing::torch_ref
