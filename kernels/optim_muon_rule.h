// Muon (torch.optim.Muon, torch 2.x, _single_tensor_muon and _zeropower_via_newtonschulz):
// the per-element and per-matrix rules that the CUDA kernels (kernels/optim_muon.cu) and the
// CPU executor (optim/cpu_muon.cpp) share, and the tables that describe the work.
//
// torch, per weight matrix W [A, B] with gradient G (no maximize), group lr, momentum mu:
//   buf = lerp(buf, G, 1 - mu);  U = nesterov ? lerp(G, buf, mu) : buf
//   X = bfloat16(U), transposed when A > B (the iteration runs on the wide side);
//   X = X / max(||X||, eps)                                 (bfloat16 norm and division)
//   ns_steps times:  S = X X^T;  T = b S + c S S;  X = a X + T X   (bfloat16 GEMMs: products
//                    summed in float, each result rounded to bfloat16 once)
//   W = W (1 - lr weight_decay) - adjusted_lr X^(T)
//   adjusted_lr = lr sqrt(max(1, A / B)) (original), 0.2 lr sqrt(max(A, B)) (match_rms_adamw)
//                 or lr sqrt(A / B) (spectral_unclamped)
// torch takes 2-D parameters only; ember flattens a convolution weight [o, i, kh, kw] to
// [o, i kh kw] (the practice of Muon's authors), and A, B are the flattened sizes.
//
// Batching: matrices of the same (A, B after the transpose, group) form a batch whose
// Newton-Schulz GEMMs are one strided-batched call each (cuBLAS on the GPU; a loop of OpenBLAS
// calls over the batch on the CPU, which emulates bfloat16 by rounding every GEMM's float
// result to bfloat16 values).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/bfloat16.h"
#include "kernels/optim_rules.h"

namespace ember::kernels {

// One weight matrix of a Muon part.
struct MuonMatrix {
  int64_t param_offset = 0;  // first element in the parameter and gradient buffers
  int64_t state_offset = 0;  // first element in momentum_buffer
  int64_t rows = 0, cols = 0;  // the flattened [A, B]
  int64_t x_offset = 0;        // first element in the Newton-Schulz buffers (m x k, m = min(A, B))
  int32_t group = 0;
  int32_t transposed = 0;  // A > B: the buffers hold W's transpose
};

// One batch: `count` matrices of m x k (m <= k) of one group, back to back from x_offset in
// the X buffers and from gram_offset in the m x m Gram buffers.
struct MuonBatch {
  int64_t m = 0, k = 0, count = 0;
  int64_t x_offset = 0, gram_offset = 0;
  int group = 0;
};

struct MuonArgs {
  float* param = nullptr;
  const float* grad = nullptr;
  float* momentum_buffer = nullptr;
  const MuonMatrix* matrices = nullptr;  // on the executor's device
  int num_matrices = 0;
  const MuonBatch* batches = nullptr;  // on the host (the GEMMs are issued from there)
  int num_batches = 0;
  int64_t max_ns_steps = 0;  // the largest ns_steps of any group
  // Workspace. CUDA: bfloat16 X buffers (two, the iteration swaps them; element counts from
  // x_offset) and Gram buffers (two). CPU: float scratch per thread (cpu_muon.cpp).
  void* x[2] = {nullptr, nullptr};
  void* gram[2] = {nullptr, nullptr};
  float* scratch = nullptr;
  int64_t scratch_per_thread = 0;
  int num_groups = 0;
  OptimHyper hyper[kMaxOptimGroups];
  const double* device_lr = nullptr;  // capturable mode: the learning rates on the device
};

// Per-group scalars of the momentum pass.
struct MuonMomentumStep {
  float one_minus_momentum, momentum;
  bool from_self_buffer, from_self_update, nesterov;
};

EMBER_HD MuonMomentumStep muon_momentum_step(const OptimHyper& h) {
  const float one_minus = float(1.0 - h.momentum), mu = float(h.momentum);
  return {one_minus, mu, lerp_from_self(one_minus), lerp_from_self(mu), h.nesterov};
}

// The momentum buffer after this step and the matrix Newton-Schulz starts from (before its
// rounding to bfloat16).
EMBER_HD float muon_momentum(const MuonMomentumStep& s, float grad, float& buffer) {
  buffer = torch_lerp(buffer, grad, s.one_minus_momentum, s.from_self_buffer);
  const float nesterov = torch_lerp(grad, buffer, s.momentum, s.from_self_update);
  return pick(s.nesterov, nesterov, buffer);
}

// Where element (i, j) of matrix `w` lies in its Newton-Schulz buffer (transposed or not).
EMBER_HD int64_t muon_x_index(const MuonMatrix& w, int64_t i, int64_t j) {
  return w.x_offset + (w.transposed ? j * w.rows + i : i * w.cols + j);
}

EMBER_HD float round_bfloat16(float x) { return float(bfloat16(x)); }

// torch: X.div_(X.norm().clamp(min=eps)) in bfloat16: the norm (summed in float here in
// double) rounded to bfloat16, clamped, and the divisor every element is divided by.
EMBER_HD float muon_norm(double sum_sq, double eps) {
  using std::sqrt;
  const float norm = round_bfloat16(float(sqrt(sum_sq)));
  return norm < float(eps) ? round_bfloat16(float(eps)) : norm;
}

// adjusted_lr / lr for a matrix [a, b] (torch's _adjust_lr).
EMBER_HD double muon_lr_scale(MuonAdjustLr fn, int64_t a, int64_t b) {
  using std::sqrt;
  const double ratio = double(a) / double(b);
  switch (fn) {
    case MuonAdjustLr::MatchRmsAdamW: return 0.2 * sqrt(double(a > b ? a : b));
    case MuonAdjustLr::SpectralUnclamped: return sqrt(ratio);
    case MuonAdjustLr::Original: break;
  }
  return sqrt(ratio > 1.0 ? ratio : 1.0);
}

// The last pass: W = W (1 - lr weight_decay) + (-adjusted_lr) O, O the orthogonalised update.
struct MuonApply {
  float decay_factor, coef;
};

EMBER_HD MuonApply muon_apply(const OptimHyper& h, double lr, const MuonMatrix& w) {
  const double adjusted_lr = lr * muon_lr_scale(h.adjust_lr_fn, w.rows, w.cols);
  return {float(1.0 - lr * h.weight_decay), float(-adjusted_lr)};
}

EMBER_HD float muon_apply_element(const MuonApply& a, float param, float update) {
  return param * a.decay_factor + a.coef * update;
}

}  // namespace ember::kernels
