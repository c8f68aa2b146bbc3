// Loops of the CPU backend over strided operands.
//
// Note [CPU row loops]
// An elementwise op walks its operands row by row: the innermost dim of the (collapsed)
// layout is a plain loop - vectorised when every operand is contiguous there, which is the
// common case - and only the start of each row goes through the strided index math. Rows
// longer than kChunk are cut into chunks so that a flat 1-d walk still spreads over all
// threads. Work is split statically and every output element is written by exactly one
// thread, so results never depend on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/parallel.h"
#include "kernels/elementwise_ops.h"
#include "kernels/strided_index.h"

namespace ember::cpu {

constexpr int64_t kParallelGrain = 32768;  // below this many elements a loop stays on one thread
constexpr int64_t kChunk = 16384;          // elements per task along a row

// row(base_offsets, steps, count) for every row (chunk) of the layout's n elements.
template <int N, class RowFn>
void for_each_row(const kernels::StridedLayout<N>& layout, int64_t n, RowFn&& row) {
  if (n <= 0) return;
  int64_t step[N];
  if (layout.ndim == 0) {
    int64_t base[N] = {};
    for (int k = 0; k < N; ++k) step[k] = 0;
    row(base, step, int64_t(1));
    return;
  }
  const int last = layout.ndim - 1;
  const int64_t len = layout.sizes[last];
  for (int k = 0; k < N; ++k) step[k] = layout.strides[k][last];
  const int64_t chunks_per_row = (len + kChunk - 1) / kChunk;
  const int64_t tasks = (n / len) * chunks_per_row;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelGrain)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t r = t / chunks_per_row, start = (t % chunks_per_row) * kChunk;
    int64_t base[N];
    kernels::strided_offsets(layout, r * len, base);
    for (int k = 0; k < N; ++k) base[k] += start * step[k];
    row(static_cast<const int64_t*>(base), static_cast<const int64_t*>(step), std::min(kChunk, len - start));
  }
}

// out = f() over one operand.
template <class O, class F>
void map1(const kernels::StridedLayout<1>& layout, int64_t n, O* out, F f) {
  for_each_row(layout, n, [&](const int64_t* base, const int64_t* step, int64_t count) {
    O* o = out + base[0];
    if (step[0] == 1) {
#pragma omp simd
      for (int64_t j = 0; j < count; ++j) o[j] = f();
    } else {
      for (int64_t j = 0; j < count; ++j) o[j * step[0]] = f();
    }
  });
}

// out = f(x).
template <class O, class I, class F>
void map2(const kernels::StridedLayout<2>& layout, int64_t n, O* out, const I* in, F f) {
  for_each_row(layout, n, [&](const int64_t* base, const int64_t* step, int64_t count) {
    O* o = out + base[0];
    const I* x = in + base[1];
    if (step[0] == 1 && step[1] == 1) {
#pragma omp simd
      for (int64_t j = 0; j < count; ++j) o[j] = f(x[j]);
    } else {
      for (int64_t j = 0; j < count; ++j) o[j * step[0]] = f(x[j * step[1]]);
    }
  });
}

// out = f(a, b), with fast paths for contiguous rows and for a broadcast scalar b.
template <class O, class I, class F>
void map3(const kernels::StridedLayout<3>& layout, int64_t n, O* out, const I* a, const I* b, F f) {
  for_each_row(layout, n, [&](const int64_t* base, const int64_t* step, int64_t count) {
    O* o = out + base[0];
    const I* x = a + base[1];
    const I* y = b + base[2];
    if (step[0] == 1 && step[1] == 1 && step[2] == 1) {
#pragma omp simd
      for (int64_t j = 0; j < count; ++j) o[j] = f(x[j], y[j]);
    } else if (step[0] == 1 && step[1] == 1 && step[2] == 0) {
      const I yv = *y;
#pragma omp simd
      for (int64_t j = 0; j < count; ++j) o[j] = f(x[j], yv);
    } else {
      for (int64_t j = 0; j < count; ++j) o[j * step[0]] = f(x[j * step[1]], y[j * step[2]]);
    }
  });
}

// Calls f(std::integral_constant<UnaryOp, op>{}) so the op is a compile-time constant in
// the loop (the switch in apply_unary folds away and the loop vectorises).
template <class F>
void dispatch_unary(kernels::UnaryOp op, F&& f) {
  using kernels::UnaryOp;
  switch (op) {
#define EMBER_CASE(OP) \
  case UnaryOp::OP: return f(std::integral_constant<UnaryOp, UnaryOp::OP>{});
    EMBER_CASE(Neg) EMBER_CASE(Exp) EMBER_CASE(Log) EMBER_CASE(Sqrt) EMBER_CASE(Rsqrt) EMBER_CASE(Abs)
    EMBER_CASE(Sign) EMBER_CASE(Relu) EMBER_CASE(Square) EMBER_CASE(Reciprocal) EMBER_CASE(Pow)
    EMBER_CASE(AddScalar) EMBER_CASE(MulScalar)
#undef EMBER_CASE
  }
}

template <class F>
void dispatch_binary(kernels::BinaryOp op, F&& f) {
  using kernels::BinaryOp;
  switch (op) {
#define EMBER_CASE(OP) \
  case BinaryOp::OP: return f(std::integral_constant<BinaryOp, BinaryOp::OP>{});
    EMBER_CASE(Add) EMBER_CASE(Sub) EMBER_CASE(Mul) EMBER_CASE(Div) EMBER_CASE(Maximum) EMBER_CASE(Minimum)
    EMBER_CASE(ThresholdBackward) EMBER_CASE(Eq) EMBER_CASE(Ne) EMBER_CASE(Lt) EMBER_CASE(Le) EMBER_CASE(Gt)
    EMBER_CASE(Ge)
#undef EMBER_CASE
  }
}

}  // namespace ember::cpu
