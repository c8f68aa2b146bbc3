// An independent, literal transcription of torch.optim's single-tensor algorithms
// (_single_tensor_sgd, _rmsprop, _adagrad, _adadelta, _adam in torch/optim/*.py, torch 2.x)
// in double precision: one function per torch tensor op, called in torch's order, with
// torch's Python-level branches and lazy state. It shares no code with kernels/optim_rules.h;
// tests compare the two.
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
    return max_exp_avg_sq_;
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

  kernels::OptimAlgorithm algorithm_;
  kernels::OptimHyper h_;
  size_t n_;
  int64_t step_ = 0;
  Vec momentum_buffer_, square_avg_, grad_avg_, sum_, acc_delta_, exp_avg_, exp_avg_sq_, max_exp_avg_sq_;
};

}  // namespace ember::testing::torch_ref
