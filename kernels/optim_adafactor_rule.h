// Adafactor (torch.optim.Adafactor, torch 2.x, _single_tensor_adafactor): the per-step,
// per-parameter and per-element rules that the CUDA kernels (kernels/optim_adafactor.cu) and
// the CPU executor (optim/cpu_adafactor.cpp) share, and the tables that describe the work.
//
// torch, per parameter p with gradient g (maximize: -g), step t, group lr:
//   beta2t = t^beta2_decay;  rho = min(lr, 1 / t^0.5);  alpha = max(eps2, ||p|| / numel^0.5) rho
//   p *= 1 - lr * weight_decay                                   (if weight_decay != 0)
//   rank >= 2, factored over the LAST TWO dimensions (a conv weight [o, i, kh, kw] over kh x kw;
//   each of the o*i "slices" has its own factors):
//     row_var = lerp(row_var, ||g||^2 over the last dim / cols, beta2t)        [..., rows, 1]
//     col_var = lerp(col_var, ||g||^2 over dim -2 / rows, beta2t)              [..., 1, cols]
//     estimate = row_var col_var / max(mean of row_var over the rows, eps1)
//   rank < 2: variance = lerp(variance, g * g, beta2t); estimate = variance
//   u = rsqrt(max(estimate, eps1^2)) * g;  denom = max(1, ||u|| / (numel^0.5 d))
//   p += -alpha / denom * u
// Every tensor op is float32 in torch; the norms are rounded to float from a double sum here
// (torch sums in float with a cascade): they agree to the last bit almost always. Python
// scalars (alpha, denom, rho) are doubles rounded to float where they meet a tensor.
//
// Work split (both executors): a parameter is cut into chunks of whole slices (factored) or of
// elements (vector), about kAdafactorChunk elements each; every pass handles one chunk per
// CUDA block (one OpenMP task on the CPU) and leaves one double per chunk (sums of p^2 and
// u^2), which the last pass adds up per parameter in chunk order: deterministic on each device.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/optim_rules.h"

namespace ember::kernels {

constexpr int64_t kAdafactorChunk = 8192;  // elements per chunk (at least one whole slice)

// One parameter of an Adafactor part.
struct AdafactorTensor {
  int64_t offset = 0;  // first element in the parameter and gradient buffers
  int64_t numel = 0;
  int64_t rows = 0, cols = 0;  // factored: the last two sizes; numel = slices * rows * cols
  int64_t row_offset = 0;      // factored: first element in row_var ([slices, rows]); vector: in variance
  int64_t col_offset = 0;      // factored: first element in col_var ([slices, cols])
  int64_t mean_offset = 0;     // factored: first element in the slice-mean workspace ([slices])
  int64_t first_chunk = 0, num_chunks = 0;
  int32_t group = 0;
  int32_t factored = 0;
};

// A unit of work: slices [begin, end) of a factored parameter, or elements [begin, end) of a
// vector.
struct AdafactorChunk {
  int64_t tensor = 0;
  int64_t begin = 0, end = 0;
};

struct AdafactorArgs {
  float* param = nullptr;
  const float* grad = nullptr;
  float* row_var = nullptr;
  float* col_var = nullptr;
  float* variance = nullptr;
  const AdafactorTensor* tensors = nullptr;  // on the executor's device
  int num_tensors = 0;
  const AdafactorChunk* chunks = nullptr;  // on the executor's device
  int64_t num_chunks = 0;
  // Workspace: one double per chunk for the sums of p^2 and of u^2, one float per slice for
  // the clamped mean of row_var.
  double* param_sumsq = nullptr;
  double* update_sumsq = nullptr;
  float* slice_mean = nullptr;
  int num_groups = 0;
  OptimHyper hyper[kMaxOptimGroups];
  int64_t step = 0;  // host mode: 1-based step number; each group's lr is hyper[g].lr
  // Capturable mode (Note [capturable step] in kernels/optim_step.cu): step count and lrs on
  // the device; the last block of the last pass resets `completion` and, with advance_step,
  // increments device_step[0].
  const double* device_lr = nullptr;
  unsigned long long* device_step = nullptr;
  unsigned long long* completion = nullptr;
  bool advance_step = true;
};

// One group's per-step scalars.
struct AdafactorStep {
  float beta2t;     // t^beta2_decay: the lerp weight of the second moments
  bool from_self;   // torch_lerp's branch for beta2t
  float eps1, eps1_sq;
  double rho;       // min(lr, 1 / t^0.5)
  double eps2, d;
  float decay_factor;  // 1 - lr * weight_decay
  bool decay, maximize;
};

EMBER_HD AdafactorStep adafactor_step(const OptimHyper& h, int64_t step, double lr) {
  using std::pow;
  const double t = double(step);
  const double beta2t = pow(t, h.beta2_decay);
  const double inv_sqrt_t = 1.0 / pow(t, 0.5);
  AdafactorStep s;
  s.beta2t = float(beta2t);
  s.from_self = lerp_from_self(s.beta2t);
  s.eps1 = float(h.eps1);
  s.eps1_sq = float(h.eps1 * h.eps1);
  s.rho = inv_sqrt_t < lr ? inv_sqrt_t : lr;  // Python's min(lr, 1 / t^0.5)
  s.eps2 = h.eps2;
  s.d = h.d;
  s.decay_factor = float(1.0 - lr * h.weight_decay);
  s.decay = h.weight_decay != 0;
  s.maximize = h.maximize;
  return s;
}

// torch: vector_norm(g, dim).square_().div_(count), in float, from the sum of squares.
EMBER_HD float adafactor_mean_square(double sum_sq, int64_t count) {
  using std::sqrt;
  const float norm = float(sqrt(sum_sq));
  return (norm * norm) / float(count);
}

// A running second moment (row_var, col_var or variance) after this step.
EMBER_HD float adafactor_lerp(const AdafactorStep& s, float moment, float target) {
  return torch_lerp(moment, target, s.beta2t, s.from_self);
}

// torch: row_var.mean(dim=-2).clamp_(min=eps1), from the sum of a slice's row_var.
EMBER_HD float adafactor_slice_mean(const AdafactorStep& s, double row_sum, int64_t rows) {
  const float mean = float(row_sum / double(rows));
  return mean < s.eps1 ? s.eps1 : mean;  // torch.clamp: NaN stays NaN
}

// The factored second-moment estimate of one element: (row_var @ col_var) / mean.
EMBER_HD float adafactor_estimate(float row, float col, float slice_mean) { return (row * col) / slice_mean; }

// u = rsqrt(max(estimate, eps1^2)) * g (ATen's float rsqrt is 1 / sqrt).
EMBER_HD float adafactor_update(const AdafactorStep& s, float estimate, float g) {
  using std::sqrt;
  const float v = estimate < s.eps1_sq ? s.eps1_sq : estimate;
  return (1.0f / sqrt(v)) * g;
}

// What one parameter's elements do in the last pass: p = (decay ? p * decay_factor : p) + coef * u.
struct AdafactorApply {
  float decay_factor, coef;
  bool decay;
};

EMBER_HD AdafactorApply adafactor_apply(const AdafactorStep& s, double param_sumsq, double update_sumsq,
                                        int64_t numel) {
  using std::pow, std::sqrt;
  const double root_numel = pow(double(numel), 0.5);
  const double rms = double(float(sqrt(param_sumsq))) / root_numel;
  const double alpha = (rms > s.eps2 ? rms : s.eps2) * s.rho;  // Python's max(eps2, rms)
  const double ratio = double(float(sqrt(update_sumsq))) / (root_numel * s.d);
  const double denom = ratio > 1.0 ? ratio : 1.0;  // Python's max(1.0, ratio)
  return {s.decay_factor, float(-alpha / denom), s.decay};
}

EMBER_HD float adafactor_apply_element(const AdafactorApply& a, float param, float update) {
  const float decayed = param * a.decay_factor;
  return pick(a.decay, decayed, param) + a.coef * update;
}

// Element j of parameter t (0 <= j < t.numel) and its update u, from the moments this step
// left: the index math both executors use.
EMBER_HD float adafactor_element_update(const AdafactorArgs& a, const AdafactorTensor& t, const AdafactorStep& s,
                                        int64_t j) {
  const float raw = a.grad[t.offset + j];
  const float g = pick(s.maximize, -raw, raw);
  if (!t.factored) return adafactor_update(s, a.variance[t.row_offset + j], g);
  const int64_t per_slice = t.rows * t.cols, slice = j / per_slice, r = (j / t.cols) % t.rows, c = j % t.cols;
  const float estimate = adafactor_estimate(a.row_var[t.row_offset + slice * t.rows + r],
                                            a.col_var[t.col_offset + slice * t.cols + c], a.slice_mean[t.mean_offset + slice]);
  return adafactor_update(s, estimate, g);
}

// The elements [begin, end) of parameter `chunk.tensor` that a chunk covers.
EMBER_HD void adafactor_chunk_elements(const AdafactorTensor& t, const AdafactorChunk& chunk, int64_t& begin,
                                       int64_t& end) {
  const int64_t per = t.factored ? t.rows * t.cols : 1;
  begin = chunk.begin * per;
  end = chunk.end * per;
}

// The last pass's parameters of tensor t, from its chunks' sums (added in chunk order).
EMBER_HD AdafactorApply adafactor_tensor_apply(const AdafactorArgs& a, const AdafactorTensor& t,
                                               const AdafactorStep& s) {
  double param_sumsq = 0, update_sumsq = 0;
  for (int64_t c = t.first_chunk; c < t.first_chunk + t.num_chunks; ++c) {
    param_sumsq += a.param_sumsq[c];
    update_sumsq += a.update_sumsq[c];
  }
  return adafactor_apply(s, param_sumsq, update_sumsq, t.numel);
}

}  // namespace ember::kernels
