// The CPU executor of Muon (kernels/optim_muon_rule.h). The matrices, ordered batch by batch
// (same shape and group), are dealt to OpenMP threads; each thread runs one matrix's whole
// step in its own float scratch - momentum, pack to bfloat16 values, normalise, ns_steps
// Newton-Schulz iterations as single-threaded OpenBLAS GEMMs (each float result rounded to
// bfloat16 values: torch's bfloat16 GEMMs sum in float and round once), update - so a
// matrix's buffers stay in the thread's cache across its iterations. OpenBLAS has no bfloat16
// GEMM that is fast on every x86 CPU; float GEMMs on bfloat16 values give torch's rounding
// points with float accumulation in another order.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/parallel.h"
#include "optim/step_executors.h"

namespace ember::optim::detail {

namespace {

using kernels::MuonArgs;
using kernels::MuonMatrix;

void round_all(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = kernels::round_bfloat16(x[i]);
}

// Momentum, then X = bfloat16(U) (transposed where the matrix is tall), normalised.
void pack(const MuonArgs& a, const MuonMatrix& w, float* x) {
  const kernels::MuonMomentumStep s = kernels::muon_momentum_step(a.hyper[w.group]);
  const float* g = a.grad + w.param_offset;
  float* buffer = a.momentum_buffer + w.state_offset;
  double sum_sq = 0;
  for (int64_t i = 0; i < w.rows; ++i)
    for (int64_t j = 0; j < w.cols; ++j) {
      const int64_t e = i * w.cols + j;
      const float v = kernels::round_bfloat16(kernels::muon_momentum(s, g[e], buffer[e]));
      x[kernels::muon_x_index(w, i, j) - w.x_offset] = v;
      sum_sq += double(v) * double(v);
    }
  const float norm = kernels::muon_norm(sum_sq, a.hyper[w.group].eps);
  const int64_t n = w.rows * w.cols;
  for (int64_t e = 0; e < n; ++e) x[e] = kernels::round_bfloat16(x[e] / norm);
}

// ns_steps iterations on x (m x k, m <= k); y, ga, gb are scratch. Returns the buffer that
// holds the result (x or y).
float* newton_schulz(const kernels::OptimHyper& h, int64_t m, int64_t k, float* x, float* y, float* ga, float* gb) {
  const float a = static_cast<float>(h.ns_a), b = static_cast<float>(h.ns_b), c = static_cast<float>(h.ns_c);
  const int steps = static_cast<int>(h.ns_steps);
  const int M = static_cast<int>(m), K = static_cast<int>(k);
  for (int it = 0; it < steps; ++it) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, M, K, 1.0f, x, K, x, K, 0.0f, ga, M);  // S = X X^T
    round_all(ga, m * m);
    std::memcpy(gb, ga, sizeof(float) * size_t(m * m));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, M, M, c, ga, M, ga, M, b, gb, M);  // T = b S + c S S
    round_all(gb, m * m);
    std::memcpy(y, x, sizeof(float) * size_t(m * k));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, M, 1.0f, gb, M, x, K, a, y, K);  // X' = a X + T X
    round_all(y, m * k);
    std::swap(x, y);
  }
  return x;
}

void update(const MuonArgs& a, const MuonMatrix& w, const float* x) {
  const double lr = a.device_lr != nullptr ? a.device_lr[w.group] : a.hyper[w.group].lr;
  const kernels::MuonApply apply = kernels::muon_apply(a.hyper[w.group], lr, w);
  float* p = a.param + w.param_offset;
  for (int64_t i = 0; i < w.rows; ++i)
    for (int64_t j = 0; j < w.cols; ++j) {
      const int64_t e = i * w.cols + j;
      p[e] = kernels::muon_apply_element(apply, p[e], x[kernels::muon_x_index(w, i, j) - w.x_offset]);
    }
}

}  // namespace

int64_t cpu_muon_scratch_per_thread(const std::vector<kernels::MuonMatrix>& matrices) {
  int64_t most = 0;
  for (const MuonMatrix& w : matrices) {
    const int64_t m = std::min(w.rows, w.cols);
    most = std::max(most, 2 * w.rows * w.cols + 2 * m * m);
  }
  return most;
}

void cpu_muon_step(const MuonArgs& a) {
  EMBER_CHECK(a.num_groups >= 1 && a.num_groups <= kernels::kMaxOptimGroups, "muon step: {} groups", a.num_groups);
#pragma omp parallel for schedule(dynamic) num_threads(num_threads()) if (a.num_matrices > 1)
  for (int i = 0; i < a.num_matrices; ++i) {
    const MuonMatrix& w = a.matrices[i];
    const int64_t m = std::min(w.rows, w.cols), k = std::max(w.rows, w.cols);
    float* x = a.scratch + int64_t(omp_get_thread_num()) * a.scratch_per_thread;
    float *y = x + m * k, *ga = y + m * k, *gb = ga + m * m;
    pack(a, w, x);
    update(a, w, newton_schulz(a.hyper[w.group], m, k, x, y, ga, gb));
  }
}

}  // namespace ember::optim::detail
