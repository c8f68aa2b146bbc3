// The CPU executor of Adafactor (kernels/optim_adafactor_rule.h): three passes over the
// chunks, each an OpenMP loop over chunks (dynamic: chunks differ in cost), calling the same
// rules as the CUDA kernels. Per chunk: pass 1 updates the second moments and sums p^2,
// pass 2 sums u^2, pass 3 updates the parameters.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"
#include "optim/step_executors.h"

namespace ember::optim::detail {

namespace {

using kernels::AdafactorArgs;
using kernels::AdafactorChunk;
using kernels::AdafactorStep;
using kernels::AdafactorTensor;

float signed_grad(const AdafactorStep& s, float g) { return kernels::pick(s.maximize, -g, g); }

// Pass 1 over the slices of a factored chunk: row and column moments, the slices' means.
double factored_moments(const AdafactorArgs& a, const AdafactorTensor& t, const AdafactorChunk& chunk,
                        const AdafactorStep& s) {
  const int64_t rows = t.rows, cols = t.cols;
  double param_sumsq = 0;
  std::vector<double> col_sums(static_cast<size_t>(cols));
  for (int64_t slice = chunk.begin; slice < chunk.end; ++slice) {
    const float* g = a.grad + t.offset + slice * rows * cols;
    const float* p = a.param + t.offset + slice * rows * cols;
    float* row_var = a.row_var + t.row_offset + slice * rows;
    float* col_var = a.col_var + t.col_offset + slice * cols;
    std::fill(col_sums.begin(), col_sums.end(), 0.0);
    double row_total = 0;
    for (int64_t r = 0; r < rows; ++r) {
      double row_sum = 0;
      for (int64_t c = 0; c < cols; ++c) {
        const double x = signed_grad(s, g[r * cols + c]), w = p[r * cols + c];
        row_sum += x * x;
        col_sums[c] += x * x;
        param_sumsq += w * w;
      }
      row_var[r] = kernels::adafactor_lerp(s, row_var[r], kernels::adafactor_mean_square(row_sum, cols));
      row_total += row_var[r];
    }
    for (int64_t c = 0; c < cols; ++c)
      col_var[c] = kernels::adafactor_lerp(s, col_var[c], kernels::adafactor_mean_square(col_sums[c], rows));
    a.slice_mean[t.mean_offset + slice] = kernels::adafactor_slice_mean(s, row_total, rows);
  }
  return param_sumsq;
}

void moments(const AdafactorArgs& a, int64_t c, const AdafactorStep* steps) {
  const AdafactorChunk& chunk = a.chunks[c];
  const AdafactorTensor& t = a.tensors[chunk.tensor];
  const AdafactorStep& s = steps[t.group];
  if (t.factored) {
    a.param_sumsq[c] = factored_moments(a, t, chunk, s);
    return;
  }
  double param_sumsq = 0;
  for (int64_t i = chunk.begin; i < chunk.end; ++i) {
    const float g = signed_grad(s, a.grad[t.offset + i]), p = a.param[t.offset + i];
    float& v = a.variance[t.row_offset + i];
    v = kernels::adafactor_lerp(s, v, g * g);
    param_sumsq += double(p) * double(p);
  }
  a.param_sumsq[c] = param_sumsq;
}

void update_norm(const AdafactorArgs& a, int64_t c, const AdafactorStep* steps) {
  const AdafactorChunk& chunk = a.chunks[c];
  const AdafactorTensor& t = a.tensors[chunk.tensor];
  int64_t begin = 0, end = 0;
  kernels::adafactor_chunk_elements(t, chunk, begin, end);
  double sum = 0;
  for (int64_t j = begin; j < end; ++j) {
    const double u = kernels::adafactor_element_update(a, t, steps[t.group], j);
    sum += u * u;
  }
  a.update_sumsq[c] = sum;
}

void apply(const AdafactorArgs& a, int64_t c, const AdafactorStep* steps) {
  const AdafactorChunk& chunk = a.chunks[c];
  const AdafactorTensor& t = a.tensors[chunk.tensor];
  const AdafactorStep& s = steps[t.group];
  const kernels::AdafactorApply apply = kernels::adafactor_tensor_apply(a, t, s);
  int64_t begin = 0, end = 0;
  kernels::adafactor_chunk_elements(t, chunk, begin, end);
  for (int64_t j = begin; j < end; ++j) {
    float& p = a.param[t.offset + j];
    p = kernels::adafactor_apply_element(apply, p, kernels::adafactor_element_update(a, t, s, j));
  }
}

template <class F>
void for_each_chunk(const AdafactorArgs& a, F f) {
#pragma omp parallel for schedule(dynamic) num_threads(num_threads()) if (a.num_chunks > 1)
  for (int64_t c = 0; c < a.num_chunks; ++c) f(c);
}

}  // namespace

void cpu_adafactor_step(const AdafactorArgs& a) {
  EMBER_CHECK(a.num_groups >= 1 && a.num_groups <= kernels::kMaxOptimGroups, "adafactor step: {} groups", a.num_groups);
  const bool capturable = a.device_step != nullptr;
  const int64_t step = capturable ? static_cast<int64_t>(a.device_step[0]) + 1 : a.step;
  EMBER_CHECK(step >= 1, "adafactor step: step number {}", step);
  std::vector<AdafactorStep> steps;
  for (int g = 0; g < a.num_groups; ++g)
    steps.push_back(kernels::adafactor_step(a.hyper[g], step, capturable ? a.device_lr[g] : a.hyper[g].lr));
  for_each_chunk(a, [&](int64_t c) { moments(a, c, steps.data()); });
  for_each_chunk(a, [&](int64_t c) { update_norm(a, c, steps.data()); });
  for_each_chunk(a, [&](int64_t c) { apply(a, c, steps.data()); });
  if (capturable && a.advance_step) a.device_step[0] += 1;
}

}  // namespace ember::optim::detail
