// The per-element update rules of ember's optimisers: the single definition of each update
// (DESIGN decision 3). The fused CUDA kernel (kernels/optim_step.cu) and the CPU executor
// (optim/cpu_step.cpp) both call them; tests/optim/test_rules.cpp checks each one against an
// independent transcription of torch.optim in double precision.
//
// Each rule follows torch.optim's single-tensor algorithm (_single_tensor_sgd, _rmsprop,
// _adagrad, _adadelta, _adam, _nadam, _radam, _adamax, _asgd, _rprop in torch/optim/*.py,
// torch 2.x; AdamW is Adam with decoupled weight decay) operation by operation, in the same
// order, so that a float32 run rounds like torch's for-loop implementation (Lion, not in
// torch, follows its paper's Algorithm 2):
//   x.add(y, alpha=a)       -> x + a * y
//   x.mul_(b).addcmul_(y, z, value=c) -> x * b + c * y * z
//   x.addcdiv_(y, z, value=c) -> x + c * (y / z)
//   x.lerp_(y, w)           -> torch_lerp(x, y, w) (ATen's two-branch formula)
// Scalars that torch computes in Python (double) once per step - 1 - beta, bias corrections,
// lr / (1 + (step - 1) * lr_decay), NAdam's mu, RAdam's rectification - are computed once per
// step in double by the make_step functions below and then rounded to the element type, as
// torch rounds a Python scalar argument to the tensor's type.
//
// Note [group scalars]
// A few optimisers keep scalar state that torch stores per parameter as a float32 0-dim
// tensor and that evolves with the step: NAdam's mu_product, ASGD's eta and mu. Every
// parameter of a group has the same value (same step, same hyperparameters), so ember keeps
// one per group (OptimScalars, in double holding the float32 value torch would hold):
// make_step reads the value before the step, next_scalars gives the value after it. At step 1
// both start from torch's initial values (mu_product 1, eta = lr, mu = 1), so nothing has to
// be initialised when state is created; the same holds for the per-element initial values
// (Adagrad's initial_accumulator_value, Rprop's step size = lr), which the rules pick at
// step 1.
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

// Every optimiser ember has. The element-wise ones (all but Adafactor and Muon) are a rule
// below; Adafactor and Muon have per-parameter phases (kernels/optim_matrix_rules.h).
enum class OptimAlgorithm : int {
  Sgd, RmsProp, Adagrad, Adadelta, Adam, AdamW, NAdam, RAdam, Adamax, Asgd, Rprop, Adafactor, Muon, Lion,
  SfAdamW, SfSgd  // Schedule-Free AdamW and SGD (Defazio et al. 2024; the schedulefree package)
};

constexpr int kMaxOptimGroups = 8;  // parameter groups per optimiser (kernel argument space)
constexpr int kMaxOptimStates = 3;  // state buffers per parameter (Adam with amsgrad, centered RMSprop)
// Scalar state per group (Note [group scalars]): ASGD's eta and mu, Schedule-Free's weight_sum and lr_max.
constexpr int kMaxOptimScalars = 2;

// Muon's adjust_lr_fn (torch's names): how the lr is scaled for a matrix of shape [A, B].
enum class MuonAdjustLr : int {
  Original,           // sqrt(max(1, A / B)) (Keller Jordan's)
  MatchRmsAdamW,      // 0.2 sqrt(max(A, B)) (Moonshot's)
  SpectralUnclamped,  // sqrt(A / B) (Bernstein's)
};

// One parameter group's hyperparameters, named and typed as torch.optim's arguments (Python
// floats are doubles). Each algorithm reads only its own fields; defaults live in optim/spec.cpp.
struct OptimHyper {
  double lr = 0;
  double momentum = 0;                   // sgd, rmsprop, muon, sfsgd
  double dampening = 0;                  // sgd
  double weight_decay = 0;               // all but rprop (decoupled in adamw, muon, adafactor)
  double alpha = 0;                      // rmsprop smoothing constant; asgd eta's power
  double eps = 0;                        // rmsprop, adagrad, adadelta, adam, nadam, radam, adamax, muon
  double lr_decay = 0;                   // adagrad
  double initial_accumulator_value = 0;  // adagrad (initial value of its state)
  double rho = 0;                        // adadelta
  double beta1 = 0, beta2 = 0;           // adam, adamw, nadam, radam, adamax, lion, sfadamw
  double warmup_steps = 0;               // sfadamw, sfsgd: linear lr warmup (an integer)
  double r = 0, weight_lr_power = 0;     // sfadamw, sfsgd: the average's weights (k+1)^r lr_max^power
  double momentum_decay = 0;             // nadam
  double lambd = 0, t0 = 0;              // asgd: decay term, step at which averaging starts
  double eta_minus = 0, eta_plus = 0;    // rprop: torch's etas
  double step_size_min = 0, step_size_max = 0;  // rprop: torch's step_sizes
  double beta2_decay = 0, eps1 = 0, eps2 = 0, d = 0;  // adafactor (eps1: torch's eps[0], None = float eps)
  double ns_a = 0, ns_b = 0, ns_c = 0;   // muon: torch's ns_coefficients
  double ns_steps = 0;                   // muon: Newton-Schulz iterations (an integer)
  MuonAdjustLr adjust_lr_fn = MuonAdjustLr::Original;  // muon
  bool nesterov = false;                 // sgd, muon
  bool centered = false;                 // rmsprop
  bool amsgrad = false;                  // adam, adamw
  bool decoupled_weight_decay = false;   // nadam, radam
  bool maximize = false;                 // all but muon
};

// Scalar state of one group (Note [group scalars]); v[k] is the rule's kScalarNames[k].
struct OptimScalars {
  double v[kMaxOptimScalars] = {0, 0};
};

// x rounded to float32 and back: a value torch keeps in a float32 tensor.
EMBER_HD double as_float32(double x) { return double(float(x)); }

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

// torch.maximum: NaN in either operand gives NaN. Written with pick and a non-short-circuit
// or (of ints: clang warns on | of bools) so that the CPU loops vectorise (a || and a ternary
// left Adamax's loop scalar: 18% of the copy bandwidth, bench/results/2026-11-30-cpu-optim.json).
template <class T>
EMBER_HD T nan_maximum(T a, T b) {
  return pick((int(a != a) | int(a > b)) != 0, a, b);
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
// (initial_accumulator_value before the first step). torch: clr = lr / (1 + (step - 1) lr_decay);
// sum += g^2; p -= clr * g / (sqrt(sum) + eps).

template <class T>
struct AdagradStep {
  T clr, weight_decay, eps;
  T initial;  // initial_accumulator_value: the sum before the first step
  bool decay, maximize, first_step;
};

template <class T>
EMBER_HD AdagradStep<T> adagrad_step(const OptimHyper& h, int64_t step, double lr) {
  const double clr = lr / (1.0 + double(step - 1) * h.lr_decay);
  return {T(clr), T(h.weight_decay), T(h.eps), T(h.initial_accumulator_value), h.weight_decay != 0, h.maximize,
          step == 1};
}

template <class T>
EMBER_HD void adagrad_update(const AdagradStep<T>& s, T& param, T grad, T& sum) {
  using std::sqrt;
  T g = pick(s.maximize, -grad, grad);
  const T decayed = g + s.weight_decay * param;
  g = pick(s.decay, decayed, g);
  sum = pick(s.first_step, s.initial, sum) + T(1) * g * g;  // torch: full_like(initial) at the first step
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
// NAdam (lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled_weight_decay,
// maximize). Slots: 0 exp_avg, 1 exp_avg_sq. Group scalar: mu_product (float32 in torch).
// torch: mu = b1 (1 - 0.5 * 0.96^(t md)), mu' = b1 (1 - 0.5 * 0.96^((t+1) md)); mu_product *= mu;
// m = lerp(m, g, 1 - b1); v = b2 v + (1 - b2) g^2; denom = sqrt(v / (1 - b2^t)) + eps;
// p += -lr (1 - mu) / (1 - mu_product) * g / denom; p += -lr mu' / (1 - mu_product mu') * m / denom.

struct NAdamMomentum {
  double mu, mu_next;
};

EMBER_HD NAdamMomentum nadam_momentum(const OptimHyper& h, int64_t step) {
  using std::pow;
  const double t = double(step);
  return {h.beta1 * (1.0 - 0.5 * pow(0.96, t * h.momentum_decay)),
          h.beta1 * (1.0 - 0.5 * pow(0.96, (t + 1.0) * h.momentum_decay))};
}

// mu_product after step `step`: torch's float32 `mu_product *= mu` (the scalar rounded to float
// first, as ATen rounds a Python scalar to the tensor's type).
EMBER_HD double nadam_mu_product(const OptimHyper& h, int64_t step, const OptimScalars& before) {
  const double previous = step == 1 ? 1.0 : before.v[0];
  return as_float32(double(float(previous) * float(nadam_momentum(h, step).mu)));
}

template <class T>
struct NAdamStep {
  T one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;
  T bias_correction2;  // 1 - beta2^t
  T decay_factor;      // 1 - lr * weight_decay (decoupled decay)
  T grad_coef;         // -lr (1 - mu) / (1 - mu_product)
  T exp_avg_coef;      // -lr mu' / (1 - mu_product mu')
  bool decoupled_decay, l2_decay, maximize;
  bool lerp_from_self;  // torch_lerp's branch for weight 1 - beta1
};

template <class T>
EMBER_HD NAdamStep<T> nadam_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars& scalars) {
  using std::pow;
  const NAdamMomentum m = nadam_momentum(h, step);
  const double mu_product = nadam_mu_product(h, step, scalars);
  const double mu_product_next = mu_product * m.mu_next;
  return {T(1.0 - h.beta1),
          T(h.beta2),
          T(1.0 - h.beta2),
          T(h.eps),
          T(h.weight_decay),
          T(1.0 - pow(h.beta2, double(step))),
          T(1.0 - lr * h.weight_decay),
          T(-lr * (1.0 - m.mu) / (1.0 - mu_product)),
          T((-lr * m.mu_next) / (1.0 - mu_product_next)),
          h.weight_decay != 0 && h.decoupled_weight_decay,
          h.weight_decay != 0 && !h.decoupled_weight_decay,
          h.maximize,
          lerp_from_self(T(1.0 - h.beta1))};
}

template <class T>
EMBER_HD void nadam_update(const NAdamStep<T>& s, T& param, T grad, T& exp_avg, T& exp_avg_sq) {
  using std::sqrt;
  T g = pick(s.maximize, -grad, grad);
  const T shrunk = param * s.decay_factor;
  param = pick(s.decoupled_decay, shrunk, param);
  const T decayed = g + s.weight_decay * param;
  g = pick(s.l2_decay, decayed, g);
  exp_avg = torch_lerp(exp_avg, g, s.one_minus_beta1, s.lerp_from_self);
  exp_avg_sq = exp_avg_sq * s.beta2 + s.one_minus_beta2 * g * g;
  const T denom = sqrt(exp_avg_sq / s.bias_correction2) + s.eps;
  param = param + s.grad_coef * (g / denom);
  param = param + s.exp_avg_coef * (exp_avg / denom);
}

// ---------------------------------------------------------------------------------------
// RAdam (lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, maximize). Slots:
// 0 exp_avg, 1 exp_avg_sq. torch: m, v as Adam; m^ = m / (1 - b1^t); rho_inf = 2 / (1 - b2) - 1,
// rho_t = rho_inf - 2 t b2^t / (1 - b2^t); rho_t > 5 (decided per step, in double):
// p -= m^ * lr * (1 / (sqrt(v) + eps) * sqrt(1 - b2^t)) * rect(rho_t), else p -= m^ * lr.
// (Python's `scalar / tensor` is reciprocal(tensor) * scalar: kept.)

template <class T>
struct RAdamStep {
  T one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, lr;
  T bias_correction1;       // 1 - beta1^t
  T bias_correction2_sqrt;  // (1 - beta2^t)^0.5
  T rect;                   // the variance rectification term (used when rectified)
  T decay_factor;           // 1 - lr * weight_decay
  bool rectified;           // rho_t > 5
  bool decoupled_decay, l2_decay, maximize;
  bool lerp_from_self;
};

template <class T>
EMBER_HD RAdamStep<T> radam_step(const OptimHyper& h, int64_t step, double lr) {
  using std::pow;
  const double t = double(step);
  const double bias_correction1 = 1.0 - pow(h.beta1, t);
  const double bias_correction2 = 1.0 - pow(h.beta2, t);
  const double rho_inf = 2.0 / (1.0 - h.beta2) - 1.0;
  const double rho_t = rho_inf - 2.0 * t * pow(h.beta2, t) / bias_correction2;
  const bool rectified = rho_t > 5.0;
  const double rect =
      rectified ? pow((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.5) : 1.0;
  return {T(1.0 - h.beta1),
          T(h.beta2),
          T(1.0 - h.beta2),
          T(h.eps),
          T(h.weight_decay),
          T(lr),
          T(bias_correction1),
          T(pow(bias_correction2, 0.5)),
          T(rect),
          T(1.0 - lr * h.weight_decay),
          rectified,
          h.weight_decay != 0 && h.decoupled_weight_decay,
          h.weight_decay != 0 && !h.decoupled_weight_decay,
          h.maximize,
          lerp_from_self(T(1.0 - h.beta1))};
}

template <class T>
EMBER_HD void radam_update(const RAdamStep<T>& s, T& param, T grad, T& exp_avg, T& exp_avg_sq) {
  using std::sqrt;
  T g = pick(s.maximize, -grad, grad);
  const T shrunk = param * s.decay_factor;
  param = pick(s.decoupled_decay, shrunk, param);
  const T decayed = g + s.weight_decay * param;
  g = pick(s.l2_decay, decayed, g);
  exp_avg = torch_lerp(exp_avg, g, s.one_minus_beta1, s.lerp_from_self);
  exp_avg_sq = exp_avg_sq * s.beta2 + s.one_minus_beta2 * g * g;
  const T corrected = exp_avg / s.bias_correction1;
  const T adaptive_lr = T(1) / (sqrt(exp_avg_sq) + s.eps) * s.bias_correction2_sqrt;
  const T rectified = corrected * s.lr * adaptive_lr * s.rect;
  const T plain = corrected * s.lr;
  param = param + T(-1) * pick(s.rectified, rectified, plain);
}

// ---------------------------------------------------------------------------------------
// Adamax (lr, beta1, beta2, eps, weight_decay, maximize). Slots: 0 exp_avg, 1 exp_inf.
// torch: m = lerp(m, g, 1 - b1); u = maximum(b2 u, |g| + eps); p -= lr / (1 - b1^t) * m / u.

template <class T>
struct AdamaxStep {
  T one_minus_beta1, beta2, eps, weight_decay;
  T clr;  // lr / (1 - beta1^t)
  bool decay, maximize, lerp_from_self;
};

template <class T>
EMBER_HD AdamaxStep<T> adamax_step(const OptimHyper& h, int64_t step, double lr) {
  using std::pow;
  return {T(1.0 - h.beta1),
          T(h.beta2),
          T(h.eps),
          T(h.weight_decay),
          T(lr / (1.0 - pow(h.beta1, double(step)))),
          h.weight_decay != 0,
          h.maximize,
          lerp_from_self(T(1.0 - h.beta1))};
}

template <class T>
EMBER_HD void adamax_update(const AdamaxStep<T>& s, T& param, T grad, T& exp_avg, T& exp_inf) {
  using std::fabs;
  T g = pick(s.maximize, -grad, grad);
  const T decayed = g + s.weight_decay * param;
  g = pick(s.decay, decayed, g);
  exp_avg = torch_lerp(exp_avg, g, s.one_minus_beta1, s.lerp_from_self);
  exp_inf = nan_maximum(exp_inf * s.beta2, fabs(g) + s.eps);
  param = param + (-s.clr) * (exp_avg / exp_inf);
}

// ---------------------------------------------------------------------------------------
// ASGD (lr, lambd, alpha, t0, weight_decay, maximize). Slot 0: ax (the averaged parameters).
// Group scalars: eta (starts at lr), mu (starts at 1), both float32 in torch.
// torch: p *= 1 - lambd eta; p -= eta g; ax = mu != 1 ? ax + (p - ax) mu : p;
// then eta = lr / (1 + lambd lr t)^alpha, mu = 1 / max(1, t - t0).

EMBER_HD OptimScalars asgd_scalars_before(int64_t step, double lr, const OptimScalars& stored) {
  if (step != 1) return stored;
  OptimScalars s;
  s.v[0] = as_float32(lr);  // torch: torch.as_tensor(lr) at the first step
  s.v[1] = 1.0;
  return s;
}

EMBER_HD OptimScalars asgd_scalars_after(const OptimHyper& h, int64_t step, double lr) {
  using std::pow;
  const double t = double(step);
  const double span = t - h.t0;
  OptimScalars s;
  s.v[0] = as_float32(lr / pow(1.0 + h.lambd * lr * t, h.alpha));
  s.v[1] = as_float32(1.0 / (span > 1.0 ? span : 1.0));
  return s;
}

template <class T>
struct AsgdStep {
  T decay_factor;  // 1 - lambd * eta
  T minus_eta, mu, weight_decay;
  bool average;    // mu != 1 (else ax is a copy of p)
  bool decay, maximize;
};

template <class T>
EMBER_HD AsgdStep<T> asgd_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars& stored) {
  const OptimScalars s = asgd_scalars_before(step, lr, stored);
  const double eta = s.v[0], mu = s.v[1];
  return {T(1.0 - h.lambd * eta), T(-eta), T(mu), T(h.weight_decay), mu != 1.0, h.weight_decay != 0, h.maximize};
}

template <class T>
EMBER_HD void asgd_update(const AsgdStep<T>& s, T& param, T grad, T& ax) {
  T g = pick(s.maximize, -grad, grad);
  const T decayed = g + s.weight_decay * param;
  g = pick(s.decay, decayed, g);
  param = param * s.decay_factor;
  param = param + s.minus_eta * g;
  const T averaged = ax + (param - ax) * s.mu;
  ax = pick(s.average, averaged, param);
}

// ---------------------------------------------------------------------------------------
// Rprop (lr, eta_minus, eta_plus, step_size_min, step_size_max, maximize). Slots: 0 prev,
// 1 step_size (lr before the first step). torch: sign = sign(g * prev) -> eta_plus where > 0,
// eta_minus where < 0, 1 where 0; step_size = clamp(step_size * sign, min, max); g = 0 where
// sign == eta_minus; p -= sign(g) * step_size; prev = g.

// torch.sign: 1, -1, or 0 (for zero and for NaN), as a difference of two comparisons so that
// the CPU loops vectorise (nested ternaries left Rprop's loop scalar).
template <class T>
EMBER_HD T torch_sign(T x) {
  return T(x > T(0)) - T(x < T(0));
}

template <class T>
struct RpropStep {
  T lr, eta_minus, eta_plus, step_size_min, step_size_max;
  bool maximize, first_step;
};

template <class T>
EMBER_HD RpropStep<T> rprop_step(const OptimHyper& h, int64_t step, double lr) {
  return {T(lr), T(h.eta_minus), T(h.eta_plus), T(h.step_size_min), T(h.step_size_max), h.maximize, step == 1};
}

template <class T>
EMBER_HD void rprop_update(const RpropStep<T>& s, T& param, T grad, T& prev, T& step_size) {
  const T g = pick(s.maximize, -grad, grad);
  const T sign = torch_sign(g * prev);
  const T factor = pick(sign > T(0), s.eta_plus, pick(sign < T(0), s.eta_minus, T(1)));
  T size = pick(s.first_step, s.lr, step_size) * factor;
  size = pick(size < s.step_size_min, s.step_size_min, size);  // torch.clamp: NaN stays NaN
  size = pick(size > s.step_size_max, s.step_size_max, size);
  step_size = size;
  const T kept = pick(factor == s.eta_minus, T(0), g);
  param = param + T(-1) * torch_sign(kept) * step_size;
  prev = kept;
}

// ---------------------------------------------------------------------------------------
// Lion (lr, beta1, beta2, weight_decay, maximize; Chen et al. 2023, "Symbolic Discovery of
// Optimization Algorithms", Algorithm 2 - not in torch.optim). Slot 0: exp_avg (the momentum m).
// c = beta1 m + (1 - beta1) g; p -= lr (sign(c) + wd p) (decoupled decay, the paper's order:
// the decay reads p before the update); m = beta2 m + (1 - beta2) g. sign(0) = 0.

template <class T>
struct LionStep {
  T lr, weight_decay, beta1, one_minus_beta1, beta2, one_minus_beta2;
  bool decay, maximize;
};

template <class T>
EMBER_HD LionStep<T> lion_step(const OptimHyper& h, double lr) {
  return {T(lr),        T(h.weight_decay), T(h.beta1),          T(1.0 - h.beta1), T(h.beta2), T(1.0 - h.beta2),
          h.weight_decay != 0, h.maximize};
}

template <class T>
EMBER_HD void lion_update(const LionStep<T>& s, T& param, T grad, T& exp_avg) {
  const T g = pick(s.maximize, -grad, grad);
  const T c = s.beta1 * exp_avg + s.one_minus_beta1 * g;
  const T update = torch_sign(c);
  const T step = pick(s.decay, update + s.weight_decay * param, update);
  param = param - s.lr * step;
  exp_avg = s.beta2 * exp_avg + s.one_minus_beta2 * g;
}

// ---------------------------------------------------------------------------------------
// Schedule-Free AdamW (lr, beta1, beta2, eps, weight_decay, warmup_steps, r, weight_lr_power)
// and Schedule-Free SGD (lr, momentum, weight_decay, warmup_steps, r, weight_lr_power):
// Defazio et al. 2024, "The Road Less Scheduled", as the schedulefree package's
// AdamWScheduleFree.step and SGDScheduleFree.step do it (not in torch.optim).
// Note [schedule-free sequences]
// The parameters hold y, where the gradient is taken; slot 0 holds z, the base sequence (a
// copy of y at step 1: the package creates it at the first step); the average x, where the
// model is evaluated, is never stored, since y = (1 - beta1) z + beta1 x: x = lerp(y, z,
// 1 - 1/beta1) and back y = lerp(x, z, 1 - beta1) (the package's eval() and train();
// Optimizer::eval/train, schedulefree_mode_weight). For SGD beta1 is `momentum`.
// Per step (host, double; k = step - 1): lr_k = lr min(1, (k+1) / warmup_steps); lr_max =
// the largest lr_k so far; weight = (k+1)^r lr_max^weight_lr_power; weight_sum += weight;
// ckp1 = weight / weight_sum (0 while the sum is 0). Per element:
//   AdamW: v = beta2 v + (1 - beta2) g^2 (slot 1, exp_avg_sq); g = g / (sqrt(v / (1 - beta2^(k+1))) + eps)
//   both:  g += wd y (at y, before it moves); y = lerp(y, z, ckp1); y += lr_k (beta1 (1 - ckp1) - 1) g;
//          z -= lr_k g
// Group scalars: weight_sum and lr_max (-1 before step 1, the package's initial value).

struct ScheduleFreeScalars {
  double lr;    // lr_k: the warmed-up learning rate of this step
  double ckp1;  // weight of z in the new average
  double weight_sum, lr_max;
};

EMBER_HD ScheduleFreeScalars schedulefree_scalars(const OptimHyper& h, int64_t step, double lr,
                                                  const OptimScalars& stored) {
  using std::pow;  // not ember::pow (core/ops.h) where that is declared first
  const double k = double(step - 1);
  ScheduleFreeScalars s;
  s.lr = lr * (k < h.warmup_steps ? (k + 1) / h.warmup_steps : 1.0);
  const double lr_max_before = step == 1 ? -1.0 : stored.v[1];
  s.lr_max = lr_max_before > s.lr ? lr_max_before : s.lr;  // Python's max(lr, lr_max)
  const double weight = pow(k + 1, h.r) * pow(s.lr_max, h.weight_lr_power);
  s.weight_sum = (step == 1 ? 0.0 : stored.v[0]) + weight;
  s.ckp1 = s.weight_sum != 0 ? weight / s.weight_sum : 0.0;
  return s;
}

// The lerp weight that moves the parameters from y to x (to_x) or from x back to y.
EMBER_HD double schedulefree_mode_weight(double beta1, bool to_x) { return to_x ? 1.0 - 1.0 / beta1 : 1.0 - beta1; }

template <class T>
struct ScheduleFreeStep {
  T ckp1, y_coef, lr, weight_decay;
  T beta2, one_minus_beta2, bias_correction2, eps;  // AdamW only
  bool decay, ckp1_from_self;
  bool first_step;  // z starts as a copy of y
};

template <class T>
EMBER_HD ScheduleFreeStep<T> schedulefree_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars& stored,
                                               double beta1) {
  using std::pow;
  const ScheduleFreeScalars s = schedulefree_scalars(h, step, lr, stored);
  return {T(s.ckp1),
          T(s.lr * (beta1 * (1 - s.ckp1) - 1)),
          T(s.lr),
          T(h.weight_decay),
          T(h.beta2),
          T(1.0 - h.beta2),
          T(1.0 - pow(h.beta2, double(step))),
          T(h.eps),
          h.weight_decay != 0,
          lerp_from_self(T(s.ckp1)),
          step == 1};
}

// The part both share, from the (AdamW: normalised) gradient g.
template <class T>
EMBER_HD void schedulefree_update(const ScheduleFreeStep<T>& s, T& param, T g, T& z) {
  z = pick(s.first_step, param, z);
  g = pick(s.decay, g + s.weight_decay * param, g);
  param = torch_lerp(param, z, s.ckp1, s.ckp1_from_self);
  param = param + s.y_coef * g;
  z = z - s.lr * g;
}

template <class T>
EMBER_HD void sfadamw_update(const ScheduleFreeStep<T>& s, T& param, T grad, T& z, T& exp_avg_sq) {
  using std::sqrt;
  exp_avg_sq = exp_avg_sq * s.beta2 + s.one_minus_beta2 * grad * grad;
  const T denom = sqrt(exp_avg_sq / s.bias_correction2) + s.eps;
  schedulefree_update(s, param, grad / denom, z);
}

// ---------------------------------------------------------------------------------------
// Rules: the uniform face the executors use. Step<T> holds one group's per-step scalars;
// apply() updates one element and its state slots s0, s1, s2.
// kRequiredSlots are always allocated; an optional slot exists when some group's
// hyperparameters need it (slots_needed). kScalarNames names the group scalars (Note [group
// scalars]) and next_scalars gives their values after a step.
//
// Adding an element-wise optimiser: its Step struct, make_step and update function above, a
// Rule struct here, a case in visit_optim_rule below, and its row in optim/spec.cpp's table
// (name, keys, defaults, torch's checks); the executors, state_dict and the tests that loop
// over every optimiser pick it up from there.

struct NoGroupScalars {
  static constexpr const char* kScalarNames[kMaxOptimScalars] = {nullptr, nullptr};
  static EMBER_HD OptimScalars next_scalars(const OptimHyper&, int64_t, double, const OptimScalars& s) { return s; }
};

struct SgdRule : NoGroupScalars {
  template <class T>
  using Step = SgdStep<T>;
  static constexpr unsigned kRequiredSlots = 0, kOptionalSlots = 1;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"momentum_buffer", nullptr, nullptr};
  static unsigned slots_needed(const OptimHyper& h) { return h.momentum != 0 ? 1u : 0u; }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars&) {
    return sgd_step<T>(h, step, lr);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T&, T&) {
    sgd_update(s, p, g, s0);
  }
};

struct RmsPropRule : NoGroupScalars {
  template <class T>
  using Step = RmsPropStep<T>;
  static constexpr unsigned kRequiredSlots = 1, kOptionalSlots = 2 | 4;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"square_avg", "momentum_buffer", "grad_avg"};
  static unsigned slots_needed(const OptimHyper& h) { return 1u | (h.momentum > 0 ? 2u : 0u) | (h.centered ? 4u : 0u); }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars&) {
    return rmsprop_step<T>(h, step, lr);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T& s1, T& s2) {
    rmsprop_update(s, p, g, s0, s1, s2);
  }
};

struct AdagradRule : NoGroupScalars {
  template <class T>
  using Step = AdagradStep<T>;
  static constexpr unsigned kRequiredSlots = 1, kOptionalSlots = 0;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"sum", nullptr, nullptr};
  static unsigned slots_needed(const OptimHyper&) { return 1u; }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars&) {
    return adagrad_step<T>(h, step, lr);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T&, T&) {
    adagrad_update(s, p, g, s0);
  }
};

struct AdadeltaRule : NoGroupScalars {
  template <class T>
  using Step = AdadeltaStep<T>;
  static constexpr unsigned kRequiredSlots = 1 | 2, kOptionalSlots = 0;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"square_avg", "acc_delta", nullptr};
  static unsigned slots_needed(const OptimHyper&) { return 3u; }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars&) {
    return adadelta_step<T>(h, step, lr);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T& s1, T&) {
    adadelta_update(s, p, g, s0, s1);
  }
};

template <bool kDecoupled>
struct AdamRuleT : NoGroupScalars {
  template <class T>
  using Step = AdamStep<T>;
  static constexpr unsigned kRequiredSlots = 1 | 2, kOptionalSlots = 4;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  static unsigned slots_needed(const OptimHyper& h) { return 3u | (h.amsgrad ? 4u : 0u); }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars&) {
    return adam_step<T>(h, step, lr, kDecoupled);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T& s1, T& s2) {
    adam_update(s, p, g, s0, s1, s2);
  }
};
using AdamRule = AdamRuleT<false>;
using AdamWRule = AdamRuleT<true>;

struct NAdamRule {
  template <class T>
  using Step = NAdamStep<T>;
  static constexpr unsigned kRequiredSlots = 1 | 2, kOptionalSlots = 0;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"exp_avg", "exp_avg_sq", nullptr};
  static constexpr const char* kScalarNames[kMaxOptimScalars] = {"mu_product", nullptr};
  static unsigned slots_needed(const OptimHyper&) { return 3u; }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars& scalars) {
    return nadam_step<T>(h, step, lr, scalars);
  }
  static EMBER_HD OptimScalars next_scalars(const OptimHyper& h, int64_t step, double, const OptimScalars& before) {
    OptimScalars s;
    s.v[0] = nadam_mu_product(h, step, before);
    return s;
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T& s1, T&) {
    nadam_update(s, p, g, s0, s1);
  }
};

struct RAdamRule : NoGroupScalars {
  template <class T>
  using Step = RAdamStep<T>;
  static constexpr unsigned kRequiredSlots = 1 | 2, kOptionalSlots = 0;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"exp_avg", "exp_avg_sq", nullptr};
  static unsigned slots_needed(const OptimHyper&) { return 3u; }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars&) {
    return radam_step<T>(h, step, lr);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T& s1, T&) {
    radam_update(s, p, g, s0, s1);
  }
};

struct AdamaxRule : NoGroupScalars {
  template <class T>
  using Step = AdamaxStep<T>;
  static constexpr unsigned kRequiredSlots = 1 | 2, kOptionalSlots = 0;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"exp_avg", "exp_inf", nullptr};
  static unsigned slots_needed(const OptimHyper&) { return 3u; }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars&) {
    return adamax_step<T>(h, step, lr);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T& s1, T&) {
    adamax_update(s, p, g, s0, s1);
  }
};

struct AsgdRule {
  template <class T>
  using Step = AsgdStep<T>;
  static constexpr unsigned kRequiredSlots = 1, kOptionalSlots = 0;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"ax", nullptr, nullptr};
  static constexpr const char* kScalarNames[kMaxOptimScalars] = {"eta", "mu"};
  static unsigned slots_needed(const OptimHyper&) { return 1u; }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars& scalars) {
    return asgd_step<T>(h, step, lr, scalars);
  }
  static EMBER_HD OptimScalars next_scalars(const OptimHyper& h, int64_t step, double lr, const OptimScalars&) {
    return asgd_scalars_after(h, step, lr);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T&, T&) {
    asgd_update(s, p, g, s0);
  }
};

struct RpropRule : NoGroupScalars {
  template <class T>
  using Step = RpropStep<T>;
  static constexpr unsigned kRequiredSlots = 1 | 2, kOptionalSlots = 0;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"prev", "step_size", nullptr};
  static unsigned slots_needed(const OptimHyper&) { return 3u; }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars&) {
    return rprop_step<T>(h, step, lr);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T& s1, T&) {
    rprop_update(s, p, g, s0, s1);
  }
};

struct LionRule : NoGroupScalars {
  template <class T>
  using Step = LionStep<T>;
  static constexpr unsigned kRequiredSlots = 1, kOptionalSlots = 0;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"exp_avg", nullptr, nullptr};
  static unsigned slots_needed(const OptimHyper&) { return 1u; }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t, double lr, const OptimScalars&) {
    return lion_step<T>(h, lr);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T&, T&) {
    lion_update(s, p, g, s0);
  }
};

// Schedule-Free: slot 0 z, slot 1 (AdamW) exp_avg_sq; group scalars weight_sum and lr_max.
struct ScheduleFreeScalarsRule {
  static constexpr const char* kScalarNames[kMaxOptimScalars] = {"weight_sum", "lr_max"};
  static EMBER_HD OptimScalars next_scalars(const OptimHyper& h, int64_t step, double lr, const OptimScalars& before) {
    const ScheduleFreeScalars s = schedulefree_scalars(h, step, lr, before);
    OptimScalars after;
    after.v[0] = s.weight_sum;
    after.v[1] = s.lr_max;
    return after;
  }
};

struct SfAdamWRule : ScheduleFreeScalarsRule {
  template <class T>
  using Step = ScheduleFreeStep<T>;
  static constexpr unsigned kRequiredSlots = 1 | 2, kOptionalSlots = 0;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"z", "exp_avg_sq", nullptr};
  static unsigned slots_needed(const OptimHyper&) { return 3u; }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars& scalars) {
    return schedulefree_step<T>(h, step, lr, scalars, h.beta1);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T& s1, T&) {
    sfadamw_update(s, p, g, s0, s1);
  }
};

struct SfSgdRule : ScheduleFreeScalarsRule {
  template <class T>
  using Step = ScheduleFreeStep<T>;
  static constexpr unsigned kRequiredSlots = 1, kOptionalSlots = 0;
  static constexpr const char* kStateNames[kMaxOptimStates] = {"z", nullptr, nullptr};
  static unsigned slots_needed(const OptimHyper&) { return 1u; }
  template <class T>
  static EMBER_HD Step<T> make_step(const OptimHyper& h, int64_t step, double lr, const OptimScalars& scalars) {
    return schedulefree_step<T>(h, step, lr, scalars, h.momentum);
  }
  template <class T>
  static EMBER_HD void apply(const Step<T>& s, T& p, T g, T& s0, T&, T&) {
    schedulefree_update(s, p, g, s0);
  }
};

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

// Whether `algorithm` is one per-element rule (one fused launch per step).
EMBER_HD bool is_elementwise(OptimAlgorithm algorithm) {
  return algorithm != OptimAlgorithm::Adafactor && algorithm != OptimAlgorithm::Muon;
}

// Whether `algorithm` is Schedule-Free: parameters at y while training, at x to evaluate.
EMBER_HD bool is_schedule_free(OptimAlgorithm algorithm) {
  return algorithm == OptimAlgorithm::SfAdamW || algorithm == OptimAlgorithm::SfSgd;
}

// Returns f(Rule{}) for the rule of an element-wise `algorithm` (f returns one type for every
// rule); callers check is_elementwise first (Adafactor and Muon fall through to SGD's).
template <class F>
decltype(auto) visit_optim_rule(OptimAlgorithm algorithm, F&& f) {
  switch (algorithm) {
    case OptimAlgorithm::RmsProp: return f(RmsPropRule{});
    case OptimAlgorithm::Adagrad: return f(AdagradRule{});
    case OptimAlgorithm::Adadelta: return f(AdadeltaRule{});
    case OptimAlgorithm::Adam: return f(AdamRule{});
    case OptimAlgorithm::AdamW: return f(AdamWRule{});
    case OptimAlgorithm::NAdam: return f(NAdamRule{});
    case OptimAlgorithm::RAdam: return f(RAdamRule{});
    case OptimAlgorithm::Adamax: return f(AdamaxRule{});
    case OptimAlgorithm::Asgd: return f(AsgdRule{});
    case OptimAlgorithm::Rprop: return f(RpropRule{});
    case OptimAlgorithm::Lion: return f(LionRule{});
    case OptimAlgorithm::SfAdamW: return f(SfAdamWRule{});
    case OptimAlgorithm::SfSgd: return f(SfSgdRule{});
    case OptimAlgorithm::Sgd:
    case OptimAlgorithm::Adafactor:
    case OptimAlgorithm::Muon: break;
  }
  return f(SgdRule{});
}

// Calls f(Rule{}, SlotSet<slots>{}) with the rule of `algorithm` and the state slots as a
// compile-time set; returns false for a slot set that the algorithm never uses (and for
// Adafactor and Muon, which are not element-wise). Each executor instantiates its loop once
// per (rule, slot set) that some spec can produce.
template <class F>
bool dispatch_optim_rule(OptimAlgorithm algorithm, unsigned slots, F&& f) {
  if (!is_elementwise(algorithm)) return false;
  return visit_optim_rule(algorithm, [&](auto rule) { return detail::dispatch_slots<decltype(rule)>(slots, f); });
}

}  // namespace ember::kernels
