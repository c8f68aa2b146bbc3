// The per-element update rules of ember's optimisers: the single definition of each update
// (DESIGN decision 3). The fused CUDA kernel (kernels/optim_step.cu) and the CPU executor
// (optim/cpu_step.cpp) both call them; tests/optim/test_rules.cpp checks each one against an
// independent transcription of torch.optim in double precision.
//
// Each rule follows torch.optim's single-tensor algorithm (_single_tensor_sgd, _rmsprop,
// _adagrad, _adadelta, _adam in torch/optim/*.py, torch 2.x; AdamW is Adam with decoupled
// weight decay) operation by operation, in the same order, so that a float32 run rounds like
// torch's for-loop implementation:
//   x.add(y, alpha=a)       -> x + a * y
//   x.mul_(b).addcmul_(y, z, value=c) -> x * b + c * y * z
//   x.addcdiv_(y, z, value=c) -> x + c * (y / z)
//   x.lerp_(y, w)           -> torch_lerp(x, y, w) (ATen's two-branch formula)
// Scalars that torch computes in Python (double) once per step - 1 - beta, bias corrections,
// lr / (1 + (step - 1) * lr_decay) - are computed once per step in double by the make_step
// functions below and then rounded to the element type, as torch rounds a Python scalar
// argument to the tensor's type.
//
// Flat layout: state buffer k of an optimiser is slot k (see each Rule's kStateNames); the
// executors load and store only the slots that exist (a compile-time set) and pass a zero
// in place of a missing one, which the rule then computes with but never uses.
//
// The rules are branch-free: where torch branches on a hyperparameter (maximize, weight
// decay, momentum, amsgrad, ...) both arms are computed with torch's arithmetic and pick()
// takes the one the flag names, which is exactly what the branch would give. This costs a
// few flops per element of a bandwidth-bound loop and lets the CPU executor vectorise.
// The flags are decided once per step, on the double hyperparameters (as torch's Python
// checks are), by the make_step functions.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/hd.h"

namespace ember::kernels {

enum class OptimAlgorithm : int { Sgd, RmsProp, Adagrad, Adadelta, Adam, AdamW };

constexpr int kMaxOptimGroups = 8;  // parameter groups per optimiser (kernel argument space)
constexpr int kMaxOptimStates = 3;  // state buffers per parameter (Adam with amsgrad, centered RMSprop)

// One parameter group's hyperparameters, named and typed as torch.optim's arguments (Python
// floats are doubles). Each algorithm reads only its own fields; defaults live in optim/spec.cpp.
struct OptimHyper {
  double lr = 0;
  double momentum = 0;                   // sgd, rmsprop
  double dampening = 0;                  // sgd
  double weight_decay = 0;               // all (decoupled in adamw)
  double alpha = 0;                      // rmsprop smoothing constant
  double eps = 0;                        // rmsprop, adagrad, adadelta, adam
  double lr_decay = 0;                   // adagrad
  double initial_accumulator_value = 0;  // adagrad (initial value of its state, read by optim/)
  double rho = 0;                        // adadelta
  double beta1 = 0, beta2 = 0;           // adam, adamw
  bool nesterov = false;                 // sgd
  bool centered = false;                 // rmsprop
  bool amsgrad = false;                  // adam, adamw
  bool maximize = false;                 // all
};

// pick(c, a, b) == (c ? a : b), bit for bit. On the host it is written with integer masks:
// GCC vectorises neither a branch on a loop-invariant flag that guards floating-point work
// nor a select on a scalar bool, and the CPU executor's loops must vectorise.
template <class T>
EMBER_HD T pick(bool c, T a, T b) {
#if defined(__CUDA_ARCH__)
  return c ? a : b;
#else
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  static_assert(sizeof(T) == sizeof(Bits), "pick is for float and double");
  const Bits mask = Bits(0) - Bits(c);
  Bits bits_a, bits_b;
  std::memcpy(&bits_a, &a, sizeof(T));
  std::memcpy(&bits_b, &b, sizeof(T));
  const Bits bits = (bits_a & mask) | (bits_b & ~mask);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
#endif
}

// torch's lerp (ATen's lerp in Lerp.h): the formula depends on the weight so that both ends
// are exact. from_self is lerp_from_self(weight), computed once per step.
template <class T>
EMBER_HD bool lerp_from_self(T weight) {
  return (weight < T(0) ? -weight : weight) < T(0.5);
}

template <class T>
EMBER_HD T torch_lerp(T self, T end, T weight, bool from_self) {
  const T near_self = self + weight * (end - self);
  const T near_end = end - (end - self) * (T(1) - weight);
  return pick(from_self, near_self, near_end);
}

// torch.maximum: NaN in either operand gives NaN.
template <class T>
EMBER_HD T nan_maximum(T a, T b) {
  return (a != a || a > b) ? a : b;
}

// ---------------------------------------------------------------------------------------
// SGD (lr, momentum, dampening, weight_decay, nesterov, maximize). Slot 0: momentum_buffer.
// torch: g = maximize ? -grad : grad; g += wd * p; buf = first step ? g : mu * buf + (1 - tau) g;
// g = nesterov ? g + mu * buf : buf; p -= lr * g.

template <class T>
struct SgdStep {
  T lr, weight_decay, momentum, one_minus_dampening;
  bool decay, use_momentum, nesterov, maximize;
  bool first_step;  // torch's "momentum_buffer is None": the buffer starts as a copy of g
};

template <class T>
EMBER_HD SgdStep<T> sgd_step(const OptimHyper& h, int64_t step, double lr) {
  return {T(lr),      T(h.weight_decay), T(h.momentum), T(1.0 - h.dampening), h.weight_decay != 0, h.momentum != 0,
          h.nesterov, h.maximize,        step == 1};
}

template <class T>
EMBER_HD void sgd_update(const SgdStep<T>& s, T& param, T grad, T& momentum_buffer) {
  T g = pick(s.maximize, -grad, grad);
  const T decayed = g + s.weight_decay * param;
  g = pick(s.decay, decayed, g);
  const T averaged = momentum_buffer * s.momentum + s.one_minus_dampening * g;
  const T buf = pick(s.first_step, g, averaged);
  const T nesterov = g + s.momentum * buf;
  momentum_buffer = pick(s.use_momentum, buf, momentum_buffer);
  g = pick(s.use_momentum, pick(s.nesterov, nesterov, buf), g);
  param = param + (-s.lr) * g;
}

// ---------------------------------------------------------------------------------------
// RMSprop (lr, alpha, eps, weight_decay, momentum, centered, maximize).
// Slots: 0 square_avg, 1 momentum_buffer (momentum > 0), 2 grad_avg (centered).
// torch: v = alpha v + (1 - alpha) g^2; centered: ga = lerp(ga, g, 1 - alpha), avg = sqrt(v - ga^2)
// else avg = sqrt(v); avg += eps; momentum: buf = mu buf + g / avg, p -= lr buf; else p -= lr g / avg.

template <class T>
struct RmsPropStep {
  T lr, alpha, one_minus_alpha, eps, weight_decay, momentum;
  bool decay, use_momentum, centered, maximize;
  bool lerp_from_self;  // torch_lerp's branch for weight 1 - alpha
};

template <class T>
EMBER_HD RmsPropStep<T> rmsprop_step(const OptimHyper& h, int64_t /*step*/, double lr) {
  return {T(lr),
          T(h.alpha),
          T(1.0 - h.alpha),
          T(h.eps),
          T(h.weight_decay),
          T(h.momentum),
          h.weight_decay != 0,
          h.momentum > 0,
          h.centered,
          h.maximize,
          lerp_from_self(T(1.0 - h.alpha))};
}

template <class T>
EMBER_HD void rmsprop_update(const RmsPropStep<T>& s, T& param, T grad, T& square_avg, T& momentum_buffer,
                             T& grad_avg) {
  using std::sqrt;
  T g = pick(s.maximize, -grad, grad);
  const T decayed = g + s.weight_decay * param;
  g = pick(s.decay, decayed, g);
  square_avg = square_avg * s.alpha + s.one_minus_alpha * g * g;
  const T new_grad_avg = torch_lerp(grad_avg, g, s.one_minus_alpha, s.lerp_from_self);
  grad_avg = pick(s.centered, new_grad_avg, grad_avg);
  const T centered_var = square_avg + T(-1) * grad_avg * grad_avg;
  const T avg = sqrt(pick(s.centered, centered_var, square_avg)) + s.eps;
  const T new_buf = momentum_buffer * s.momentum + g / avg;
  momentum_buffer = pick(s.use_momentum, new_buf, momentum_buffer);
  const T with_momentum = param + (-s.lr) * momentum_buffer;
  const T without = param + (-s.lr) * (g / avg);
  param = pick(s.use_momentum, with_momentum, without);
}

// ---------------------------------------------------------------------------------------
// Adagrad (lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize). Slot 0: sum
// (starts at initial_accumulator_value). torch: clr = lr / (1 + (step - 1) lr_decay);
// sum += g^2; p -= clr * g / (sqrt(sum) + eps).

template <class T>
struct AdagradStep {
  T clr, weight_decay, eps;
  bool decay, maximize;
};

template <class T>
EMBER_HD AdagradStep<T> adagrad_step(const OptimHyper& h, int64_t step, double lr) {
  const double clr = lr / (1.0 + double(step - 1) * h.lr_decay);
  return {T(clr), T(h.weight_decay), T(h.eps), h.weight_decay != 0, h.maximize};
}

template <class T>
EMBER_HD void adagrad_update(const AdagradStep<T>& s, T& param, T grad, T& sum) {
  using std::sqrt;
  T g = pick(s.maximize, -grad, grad);
  const T decayed = g + s.weight_decay * param;
  g = pick(s.decay, decayed, g);
  sum = sum + T(1) * g * g;
  const T std_dev = sqrt(sum) + s.eps;
  param = param + (-s.clr) * (g / std_dev);
}

// ---------------------------------------------------------------------------------------
// Adadelta (lr, rho, eps, weight_decay, maximize). Slots: 0 square_avg, 1 acc_delta.
// torch: v = rho v + (1 - rho) g^2; delta = sqrt(acc + eps) / sqrt(v + eps) * g;
// acc = rho acc + (1 - rho) delta^2 (after delta is formed); p -= lr * delta.

template <class T>
struct AdadeltaStep {
  T lr, rho, one_minus_rho, eps, weight_decay;
  bool decay, maximize;
};

template <class T>
EMBER_HD AdadeltaStep<T> adadelta_step(const OptimHyper& h, int64_t /*step*/, double lr) {
  return {T(lr), T(h.rho), T(1.0 - h.rho), T(h.eps), T(h.weight_decay), h.weight_decay != 0, h.maximize};
}

template <class T>
EMBER_HD void adadelta_update(const AdadeltaStep<T>& s, T& param, T grad, T& square_avg, T& acc_delta) {
  using std::sqrt;
  T g = pick(s.maximize, -grad, grad);
  const T decayed = g + s.weight_decay * param;
  g = pick(s.decay, decayed, g);
  square_avg = square_avg * s.rho + s.one_minus_rho * g * g;
  const T std_dev = sqrt(square_avg + s.eps);
  const T delta = sqrt(acc_delta + s.eps) / std_dev * g;
  acc_delta = acc_delta * s.rho + s.one_minus_rho * delta * delta;
  param = param + (-s.lr) * delta;
}

// ---------------------------------------------------------------------------------------
// Adam / AdamW (lr, beta1, beta2, eps, weight_decay, amsgrad, maximize; AdamW: decoupled decay).
// Slots: 0 exp_avg, 1 exp_avg_sq, 2 max_exp_avg_sq (amsgrad).
// torch: decoupled ? p *= 1 - lr wd : g += wd p; m = lerp(m, g, 1 - b1); v = b2 v + (1 - b2) g^2;
// amsgrad: vmax = max(vmax, v), v' = vmax; denom = sqrt(v') / sqrt(1 - b2^t) + eps;
// p -= lr / (1 - b1^t) * m / denom.

template <class T>
struct AdamStep {
  T one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;
  T step_size;              // lr / (1 - beta1^t)
  T bias_correction2_sqrt;  // sqrt(1 - beta2^t)
  T decay_factor;           // 1 - lr * weight_decay (decoupled decay)
  bool decoupled_decay;     // weight_decay != 0, decoupled (AdamW): p *= decay_factor
  bool l2_decay;            // weight_decay != 0, not decoupled (Adam): g += weight_decay * p
  bool amsgrad, maximize;
  bool lerp_from_self;  // torch_lerp's branch for weight 1 - beta1
};

template <class T>
EMBER_HD AdamStep<T> adam_step(const OptimHyper& h, int64_t step, double lr, bool decoupled) {
  using std::pow, std::sqrt;
  const double t = double(step);
  const double bias_correction1 = 1.0 - pow(h.beta1, t);
  const double bias_correction2 = 1.0 - pow(h.beta2, t);
  return {T(1.0 - h.beta1),
          T(h.beta2),
          T(1.0 - h.beta2),
          T(h.eps),
          T(h.weight_decay),
          T(lr / bias_correction1),
          T(sqrt(bias_correction2)),
          T(1.0 - lr * h.weight_decay),
          h.weight_decay != 0 && decoupled,
          h.weight_decay != 0 && !decoupled,
          h.amsgrad,
          h.maximize,
          lerp_from_self(T(1.0 - h.beta1))};
}

template <class T>
EMBER_HD void adam_update(const AdamStep<T>& s, T& param, T grad, T& exp_avg, T& exp_avg_sq, T& max_exp_avg_sq) {
  using std::sqrt;
  T g = pick(s.maximize, -grad, grad);
  const T shrunk = param * s.decay_factor;  // decoupled: the parameter decays first
  param = pick(s.decoupled_decay, shrunk, param);
  const T decayed = g + s.weight_decay * param;  // L2: the gradient gets the decay term
  g = pick(s.l2_decay, decayed, g);
  exp_avg = torch_lerp(exp_avg, g, s.one_minus_beta1, s.lerp_from_self);
  exp_avg_sq = exp_avg_sq * s.beta2 + s.one_minus_beta2 * g * g;
  const T new_max = nan_maximum(max_exp_avg_sq, exp_avg_sq);
  max_exp_avg_sq = pick(s.amsgrad, new_max, max_exp_avg_sq);
  const T second = pick(s.amsgrad, new_max, exp_avg_sq);
  const T denom = sqrt(second) / s.bias_correction2_sqrt + s.eps;
  param = param + (-s.step_size) * (exp_avg / denom);
}

// ---------------------------------------------------------------------------------------
// Rules: the uniform face the executors use. Step<T> holds one group's per-step scalars;
// apply() updates one element and its state slots s0, s1, s2.
// kRequiredSlots are always allocated; an optional slot exists when some group's
// hyperparameters need it (slots_needed).

struct SgdRule {
  template <class T>
  using Step = SgdStep<T>;
  static constexpr unsigned kRequiredSlots = 0, kOptionalSlots = 1;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"momentum_buffer", nullptr, nullptr};
  static unsigned slots_needed(const OptimHyper& h) { return h.momentum != 0 ? 1u : 0u; }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr) {
    return sgd_step<T>(h, step, lr);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T&, T&) {
    sgd_update(s, p, g, s0);
  }
};

struct RmsPropRule {
  template <class T>
  using Step = RmsPropStep<T>;
  static constexpr unsigned kRequiredSlots = 1, kOptionalSlots = 2 | 4;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"square_avg", "momentum_buffer", "grad_avg"};
  static unsigned slots_needed(const OptimHyper& h) { return 1u | (h.momentum > 0 ? 2u : 0u) | (h.centered ? 4u : 0u); }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr) {
    return rmsprop_step<T>(h, step, lr);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T& s1, T& s2) {
    rmsprop_update(s, p, g, s0, s1, s2);
  }
};

struct AdagradRule {
  template <class T>
  using Step = AdagradStep<T>;
  static constexpr unsigned kRequiredSlots = 1, kOptionalSlots = 0;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"sum", nullptr, nullptr};
  static unsigned slots_needed(const OptimHyper&) { return 1u; }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr) {
    return adagrad_step<T>(h, step, lr);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T&, T&) {
    adagrad_update(s, p, g, s0);
  }
};

struct AdadeltaRule {
  template <class T>
  using Step = AdadeltaStep<T>;
  static constexpr unsigned kRequiredSlots = 1 | 2, kOptionalSlots = 0;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"square_avg", "acc_delta", nullptr};
  static unsigned slots_needed(const OptimHyper&) { return 3u; }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr) {
    return adadelta_step<T>(h, step, lr);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T& s1, T&) {
    adadelta_update(s, p, g, s0, s1);
  }
};

template <bool kDecoupled>
struct AdamRuleT {
  template <class T>
  using Step = AdamStep<T>;
  static constexpr unsigned kRequiredSlots = 1 | 2, kOptionalSlots = 4;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  static unsigned slots_needed(const OptimHyper& h) { return 3u | (h.amsgrad ? 4u : 0u); }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr) {
    return adam_step<T>(h, step, lr, kDecoupled);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T& s1, T& s2) {
    adam_update(s, p, g, s0, s1, s2);
  }
};
using AdamRule = AdamRuleT<false>;
using AdamWRule = AdamRuleT<true>;

template <unsigned kSlots>
using SlotSet = std::integral_constant<unsigned, kSlots>;

namespace detail {
template <class Rule, unsigned kSlots>
constexpr bool valid_slots() {
  return (kSlots & Rule::kRequiredSlots) == Rule::kRequiredSlots &&
         (kSlots & ~(Rule::kRequiredSlots | Rule::kOptionalSlots)) == 0;
}

template <class Rule, class F, unsigned kSlots = 0>
bool dispatch_slots(unsigned slots, F& f) {
  if constexpr (kSlots >= (1u << kMaxOptimStates)) {
    return false;
  } else {
    if (slots == kSlots) {
      if constexpr (valid_slots<Rule, kSlots>()) {
        f(Rule{}, SlotSet<kSlots>{});
        return true;
      } else {
        return false;
      }
    }
    return dispatch_slots<Rule, F, kSlots + 1>(slots, f);
  }
}
}  // namespace detail

// Returns f(Rule{}) for the rule of `algorithm` (f returns one type for every rule).
template <class F>
decltype(auto) visit_optim_rule(OptimAlgorithm algorithm, F&& f) {
  switch (algorithm) {
    case OptimAlgorithm::RmsProp: return f(RmsPropRule{});
    case OptimAlgorithm::Adagrad: return f(AdagradRule{});
    case OptimAlgorithm::Adadelta: return f(AdadeltaRule{});
    case OptimAlgorithm::Adam: return f(AdamRule{});
    case OptimAlgorithm::AdamW: return f(AdamWRule{});
    case OptimAlgorithm::Sgd: break;
  }
  return f(SgdRule{});
}

// Calls f(Rule{}, SlotSet<slots>{}) with the rule of `algorithm` and the state slots as a
// compile-time set; returns false for a slot set that the algorithm never uses. Each
// executor instantiates its loop once per (rule, slot set): 10 combinations in all.
template <class F>
bool dispatch_optim_rule(OptimAlgorithm algorithm, unsigned slots, F&& f) {
  return visit_optim_rule(algorithm, [&](auto rule) { return detail::dispatch_slots<decltype(rule)>(slots, f); });
}

}  // namespace ember::kernels
