// Independent, literal transcriptions of torch.optim's Adafactor (_single_tensor_adafactor) and
// Muon (_single_tensor_muon, _zeropower_via_newtonschulz, _adjust_lr), torch 2.x, in double
// precision, one parameter at a time: torch's tensor ops in torch's order. Muon keeps torch's
// bfloat16 storage (the value of every bfloat16 tensor torch makes is rounded to bfloat16 here
// too) with double sums, and flattens a weight of rank > 2 to [size(0), rest] as ember does.
// Shares no code with kernels/optim_adafactor_rule.h or kernels/optim_muon_rule.h.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/optim_rules.h"

namespace ember::testing::torch_ref {

using Vec = std::vector<double>;

class AdafactorReference {
 public:
  AdafactorReference(const kernels::OptimHyper& h, const Shape& shape) : h_(h), shape_(shape) {
    numel_ = shape_numel(shape);
    if (shape.size() > 1) {
      rows_ = shape[shape.size() - 2], cols_ = shape.back();
      slices_ = numel_ / (rows_ * cols_);
      row_var_.assign(static_cast<size_t>(slices_ * rows_), 0.0);
      col_var_.assign(static_cast<size_t>(slices_ * cols_), 0.0);
    } else {
      variance_.assign(static_cast<size_t>(numel_), 0.0);
    }
  }

  void step(Vec& param, const Vec& grad_in) {
    Vec grad = grad_in;
    if (h_.maximize)
      for (double& g : grad) g = -g;
    const double t = double(++step_);
    const double one_minus_beta2_t = std::pow(t, h_.beta2_decay);
    const double rho_t = std::min(h_.lr, 1 / std::pow(t, 0.5));
    const double alpha = std::max(h_.eps2, norm(param) / std::pow(double(numel_), 0.5)) * rho_t;
    if (h_.weight_decay != 0)
      for (double& p : param) p *= 1 - h_.lr * h_.weight_decay;
    const Vec estimate = shape_.size() > 1 ? factored(grad, one_minus_beta2_t) : unfactored(grad, one_minus_beta2_t);
    Vec update(estimate.size());
    for (size_t i = 0; i < update.size(); ++i) update[i] = 1 / std::sqrt(std::max(estimate[i], h_.eps1 * h_.eps1)) * grad[i];
    const double denom = std::max(1.0, norm(update) / (std::pow(double(numel_), 0.5) * h_.d));
    for (size_t i = 0; i < param.size(); ++i) param[i] += -alpha / denom * update[i];
  }

  const Vec& row_var() const { return row_var_; }
  const Vec& col_var() const { return col_var_; }
  const Vec& variance() const { return variance_; }

 private:
  static double norm(const Vec& v) {
    double s = 0;
    for (double x : v) s += x * x;
    return std::sqrt(s);
  }
  static double lerp(double a, double b, double w) { return std::fabs(w) < 0.5 ? a + w * (b - a) : b - (b - a) * (1 - w); }

  Vec factored(const Vec& grad, double weight) {
    Vec estimate(grad.size());
    for (int64_t s = 0; s < slices_; ++s) {
      const double* g = grad.data() + s * rows_ * cols_;
      for (int64_t r = 0; r < rows_; ++r) {  // vector_norm(dim=-1).square() / cols
        double n = 0;
        for (int64_t c = 0; c < cols_; ++c) n += g[r * cols_ + c] * g[r * cols_ + c];
        row_var_[s * rows_ + r] = lerp(row_var_[s * rows_ + r], std::pow(std::sqrt(n), 2) / double(cols_), weight);
      }
      for (int64_t c = 0; c < cols_; ++c) {  // vector_norm(dim=-2).square() / rows
        double n = 0;
        for (int64_t r = 0; r < rows_; ++r) n += g[r * cols_ + c] * g[r * cols_ + c];
        col_var_[s * cols_ + c] = lerp(col_var_[s * cols_ + c], std::pow(std::sqrt(n), 2) / double(rows_), weight);
      }
      double mean = 0;
      for (int64_t r = 0; r < rows_; ++r) mean += row_var_[s * rows_ + r];
      mean = std::max(mean / double(rows_), h_.eps1);
      for (int64_t r = 0; r < rows_; ++r)  // (row_var @ col_var) / mean
        for (int64_t c = 0; c < cols_; ++c)
          estimate[(s * rows_ + r) * cols_ + c] = row_var_[s * rows_ + r] * col_var_[s * cols_ + c] / mean;
    }
    return estimate;
  }

  Vec unfactored(const Vec& grad, double weight) {
    for (size_t i = 0; i < grad.size(); ++i) variance_[i] = lerp(variance_[i], grad[i] * grad[i], weight);
    return variance_;
  }

  kernels::OptimHyper h_;
  Shape shape_;
  int64_t numel_ = 0, rows_ = 0, cols_ = 0, slices_ = 0, step_ = 0;
  Vec row_var_, col_var_, variance_;
};

// torch's bfloat16 storage: round to nearest even with 8 significant bits.
inline double bf16(double x) {
  if (!std::isfinite(x) || x == 0) return x;
  int exponent = 0;
  const double mantissa = std::frexp(x, &exponent);  // x = mantissa 2^exponent, |mantissa| in [0.5, 1)
  return std::ldexp(std::nearbyint(std::ldexp(mantissa, 8)), exponent - 8);
}

class MuonReference {
 public:
  MuonReference(const kernels::OptimHyper& h, const Shape& shape) : h_(h) {
    rows_ = shape[0], cols_ = shape_numel(shape) / shape[0];
    buffer_.assign(static_cast<size_t>(rows_ * cols_), 0.0);
  }

  void step(Vec& param, const Vec& grad) {
    const size_t n = param.size();
    Vec update(n);
    for (size_t i = 0; i < n; ++i) {  // buf.lerp_(grad, 1 - momentum); grad.lerp(buf, momentum)
      buffer_[i] = lerp(buffer_[i], grad[i], 1 - h_.momentum);
      update[i] = h_.nesterov ? lerp(grad[i], buffer_[i], h_.momentum) : buffer_[i];
    }
    const Vec ortho = zeropower(update);
    const double ratio = double(rows_) / double(cols_);
    double scale = std::sqrt(std::max(1.0, ratio));
    if (h_.adjust_lr_fn == kernels::MuonAdjustLr::MatchRmsAdamW) scale = 0.2 * std::sqrt(double(std::max(rows_, cols_)));
    if (h_.adjust_lr_fn == kernels::MuonAdjustLr::SpectralUnclamped) scale = std::sqrt(ratio);
    const double adjusted_lr = h_.lr * scale;
    for (size_t i = 0; i < n; ++i) param[i] = param[i] * (1 - h_.lr * h_.weight_decay) - adjusted_lr * ortho[i];
  }

 private:
  static double lerp(double a, double b, double w) { return std::fabs(w) < 0.5 ? a + w * (b - a) : b - (b - a) * (1 - w); }

  // C = alpha A B + beta C for row-major m x k times k x n, then rounded to bfloat16.
  static Vec matmul(const Vec& a, const Vec& b, int64_t m, int64_t k, int64_t n, bool b_transposed, double alpha,
                    double beta, const Vec& c) {
    Vec out(static_cast<size_t>(m * n));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t l = 0; l < k; ++l) sum += a[i * k + l] * (b_transposed ? b[j * k + l] : b[l * n + j]);
        out[i * n + j] = bf16(alpha * sum + (c.empty() ? 0.0 : beta * c[i * n + j]));
      }
    return out;
  }

  Vec zeropower(const Vec& g) const {
    const bool tall = rows_ > cols_;
    const int64_t m = tall ? cols_ : rows_, k = tall ? rows_ : cols_;
    Vec x(g.size());
    for (int64_t i = 0; i < rows_; ++i)
      for (int64_t j = 0; j < cols_; ++j) x[tall ? j * rows_ + i : i * cols_ + j] = bf16(g[i * cols_ + j]);
    double norm = 0;
    for (double v : x) norm += v * v;
    norm = bf16(std::sqrt(norm));
    norm = bf16(std::max(norm, h_.eps));  // clamp(min=eps) on a bfloat16 tensor
    for (double& v : x) v = bf16(v / norm);
    for (int s = 0; s < static_cast<int>(h_.ns_steps); ++s) {
      const Vec gram = matmul(x, x, m, k, m, true, 1, 0, {});
      const Vec gram_update = matmul(gram, gram, m, m, m, false, h_.ns_c, h_.ns_b, gram);
      x = matmul(gram_update, x, m, m, k, false, 1, h_.ns_a, x);
    }
    Vec out(g.size());
    for (int64_t i = 0; i < rows_; ++i)
      for (int64_t j = 0; j < cols_; ++j) out[i * cols_ + j] = x[tall ? j * rows_ + i : i * cols_ + j];
    return out;
  }

  kernels::OptimHyper h_;
  int64_t rows_ = 0, cols_ = 0;
  Vec buffer_;
};

}  // namespace ember::testing::torch_ref
