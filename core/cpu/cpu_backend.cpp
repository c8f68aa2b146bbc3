// The CPU backend: plain loops over the shared per-element rules (kernels/*.h), OpenBLAS for
// GEMM, OpenMP across cores for large loops. Clarity first: this is the reference the CUDA
// backend is tested against.
#include <cblas.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/backend.h"
#include "core/cpu/cpu_loops.h"
#include "core/parallel.h"
#include "core/strided_layout.h"
#include "kernels/convert.h"
#include "kernels/elementwise_ops.h"
#include "kernels/philox.h"

namespace ember {

namespace {

using cpu::kChunk;
using cpu::kParallelGrain;

// Sums accumulate integers in int64 and everything else (float, double, bfloat16) in double.
template <class T> using AccOf = std::conditional_t<std::is_integral_v<T>, int64_t, double>;

// Sum of n contiguous values in a fixed order (eight interleaved partial sums, so the
// compiler can vectorise without reassociating): the result depends on the data only.
template <class T>
AccOf<T> sum_contiguous(const T* x, int64_t n) {
  AccOf<T> acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += x[i + k];
  for (; i < n; ++i) acc[0] += x[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

class CpuBackend final : public Backend {
 public:
  void copy(const Tensor& dst, const Tensor& src) override {
    const auto layout = make_strided_layout<2>({&dst, &src});
    dispatch_dtype(dst.dtype(), [&](auto dt) {
      using D = typename decltype(dt)::type;
      dispatch_dtype(src.dtype(), [&](auto st) {
        using S = typename decltype(st)::type;
        cpu::map2(layout, dst.numel(), static_cast<D*>(dst.raw_data()), static_cast<const S*>(src.raw_data()),
                  [](S x) { return kernels::convert_value<D>(x); });  // Note [float to integer conversion]
      });
    });
  }

  void fill(const Tensor& dst, double value) override {
    const auto layout = make_strided_layout<1>({&dst});
    dispatch_dtype(dst.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T v = kernels::convert_value<T>(value);
      cpu::map1(layout, dst.numel(), static_cast<T*>(dst.raw_data()), [v] { return v; });
    });
  }

  void unary(UnaryOp op, const Tensor& out, const Tensor& in, double scalar) override {
    const auto layout = make_strided_layout<2>({&out, &in});
    dispatch_floating_bf16(in.dtype(), "unary op", [&](auto tag) {
      using T = typename decltype(tag)::type;
      using A = accumulator_t<T>;  // float for bfloat16: the scalar is not rounded to 8 bits
      const A s = static_cast<A>(scalar);
      cpu::dispatch_unary(op, [&](auto op_tag) {
        constexpr UnaryOp kOp = decltype(op_tag)::value;
        cpu::map2(layout, out.numel(), static_cast<T*>(out.raw_data()), static_cast<const T*>(in.raw_data()),
                  [s](T x) { return T(kernels::apply_unary<A>(kOp, A(x), s)); });
      });
    });
  }

  void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, double alpha) override {
    const auto layout = make_strided_layout<3>({&out, &a, &b});
    dispatch_dtype(a.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = static_cast<const T*>(a.raw_data());
      const T* y = static_cast<const T*>(b.raw_data());
      using A = accumulator_t<T>;
      const A al = static_cast<A>(alpha);
      cpu::dispatch_binary(op, [&](auto op_tag) {
        constexpr BinaryOp kOp = decltype(op_tag)::value;
        if constexpr (kernels::is_comparison(kOp)) {
          cpu::map3(layout, out.numel(), static_cast<uint8_t*>(out.raw_data()), x, y,
                    [](T u, T v) { return kernels::apply_comparison(kOp, u, v); });
        } else {
          cpu::map3(layout, out.numel(), static_cast<T*>(out.raw_data()), x, y,
                    [al](T u, T v) { return T(kernels::apply_binary_arith<A>(kOp, A(u), A(v), al)); });
        }
      });
    });
  }

  void reduce(ReduceOp op, const Tensor& out, const Tensor& indices, const Tensor& in, int64_t outer, int64_t n,
              int64_t inner) override {
    dispatch_dtype(in.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = static_cast<const T*>(in.raw_data());
      T* o = static_cast<T*>(out.raw_data());
      if (op == ReduceOp::Sum) {
        if (inner == 1) sum_rows(o, x, outer, n);
        else sum_columns(o, x, outer, n, inner);
      } else {
        max_columns(o, indices.defined() ? indices.data<int64_t>() : nullptr, x, outer, n, inner);
      }
    });
  }

  void gemm(const GemmArgs& g, const Tensor& a, const Tensor& b, const Tensor& c) override {
    const auto ta = g.trans_a ? CblasTrans : CblasNoTrans, tb = g.trans_b ? CblasTrans : CblasNoTrans;
    dispatch_floating(c.dtype(), "gemm", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* A = static_cast<const T*>(a.raw_data());
      const T* B = static_cast<const T*>(b.raw_data());
      T* C = static_cast<T*>(c.raw_data());
      // A large GEMM gets every thread for itself (Note [one BLAS thread] in core/parallel.h).
      const bool big = static_cast<double>(g.m) * g.n * g.k * g.batch > 1e7 && num_threads() > 1;
      if (big) openblas_set_num_threads(num_threads());
      for (int64_t i = 0; i < g.batch; ++i) {
        if constexpr (std::is_same_v<T, float>) {
          cblas_sgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, static_cast<float>(g.alpha), A + i * g.stride_a, g.lda,
                      B + i * g.stride_b, g.ldb, static_cast<float>(g.beta), C + i * g.stride_c, g.ldc);
        } else {
          cblas_dgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, g.alpha, A + i * g.stride_a, g.lda, B + i * g.stride_b,
                      g.ldb, g.beta, C + i * g.stride_c, g.ldc);
        }
      }
      if (big) openblas_set_num_threads(1);
    });
  }

  void log_softmax(const Tensor& out, const Tensor& in) override {
    const int64_t cols = in.size(-1), rows = in.numel() / cols;
    dispatch_floating(in.dtype(), "log_softmax", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = static_cast<const T*>(in.raw_data());
      T* o = static_cast<T*>(out.raw_data());
#pragma omp parallel for num_threads(num_threads()) if (rows * cols > kParallelGrain)
      for (int64_t r = 0; r < rows; ++r) {
        const T* row = x + r * cols;
        const double lse = log_sum_exp(row, cols);
        for (int64_t c = 0; c < cols; ++c) o[r * cols + c] = static_cast<T>(row[c] - lse);
      }
    });
  }

  void log_softmax_backward(const Tensor& grad_in, const Tensor& grad_out, const Tensor& out) override {
    const int64_t cols = out.size(-1), rows = out.numel() / cols;
    dispatch_floating(out.dtype(), "log_softmax_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* g = static_cast<const T*>(grad_out.raw_data());
      const T* y = static_cast<const T*>(out.raw_data());
      T* gi = static_cast<T*>(grad_in.raw_data());
#pragma omp parallel for num_threads(num_threads()) if (rows * cols > kParallelGrain)
      for (int64_t r = 0; r < rows; ++r) {
        double total = 0;
        for (int64_t c = 0; c < cols; ++c) total += g[r * cols + c];
        for (int64_t c = 0; c < cols; ++c)
          gi[r * cols + c] = static_cast<T>(g[r * cols + c] - std::exp(static_cast<double>(y[r * cols + c])) * total);
      }
    });
  }

  void cross_entropy(const Tensor& losses, const Tensor& logits, const Tensor& targets, double eps) override {
    const int64_t rows = logits.size(0), cols = logits.size(1);
    const int64_t* t = targets.data<int64_t>();
    dispatch_floating(logits.dtype(), "cross_entropy", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = static_cast<const T*>(logits.raw_data());
      T* loss = static_cast<T*>(losses.raw_data());
      for (int64_t r = 0; r < rows; ++r) {
        const T* row = x + r * cols;
        double total = 0;
        for (int64_t c = 0; c < cols; ++c) total += row[c];
        loss[r] = static_cast<T>(log_sum_exp(row, cols) - (1.0 - eps) * row[t[r]] - eps / cols * total);
      }
    });
  }

  void cross_entropy_backward(const Tensor& grad_logits, const Tensor& logits, const Tensor& targets,
                              const Tensor& grad_loss, double scale, double eps) override {
    const int64_t rows = logits.size(0), cols = logits.size(1);
    const int64_t* t = targets.data<int64_t>();
    dispatch_floating(logits.dtype(), "cross_entropy_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = static_cast<const T*>(logits.raw_data());
      T* gx = static_cast<T*>(grad_logits.raw_data());
      const double g = scale * static_cast<double>(*static_cast<const T*>(grad_loss.raw_data()));
      for (int64_t r = 0; r < rows; ++r) {
        const T* row = x + r * cols;
        const double lse = log_sum_exp(row, cols);
        for (int64_t c = 0; c < cols; ++c) {
          const double target = (c == t[r] ? 1.0 - eps : 0.0) + eps / cols;
          gx[r * cols + c] = static_cast<T>(g * (std::exp(row[c] - lse) - target));
        }
      }
    });
  }

  void arange(const Tensor& out, double start, double step) override {
    dispatch_dtype(out.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* o = static_cast<T*>(out.raw_data());
      for (int64_t i = 0; i < out.numel(); ++i) o[i] = kernels::convert_value<T>(start + static_cast<double>(i) * step);
    });
  }

  void random_uniform(const Tensor& out, uint64_t seed, uint64_t counter0, double low, double high) override {
    dispatch_floating(out.dtype(), "random_uniform", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* o = static_cast<T*>(out.raw_data());
      const int64_t n = out.numel();
#pragma omp parallel for num_threads(num_threads()) if (n > kParallelGrain)
      for (int64_t i = 0; i < n; ++i) o[i] = kernels::philox_uniform<T>(seed, counter0, i, low, high);
    });
  }

  void random_normal(const Tensor& out, uint64_t seed, uint64_t counter0, double mean, double std) override {
    dispatch_floating(out.dtype(), "random_normal", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* o = static_cast<T*>(out.raw_data());
      const int64_t n = out.numel();
#pragma omp parallel for num_threads(num_threads()) if (n > kParallelGrain)
      for (int64_t i = 0; i < n; ++i) o[i] = kernels::philox_normal<T>(seed, counter0, i, mean, std);
    });
  }

  void synchronize() override {}

 private:
  // out[p] = sum of row p (n contiguous values). Long rows are cut into fixed chunks summed
  // in parallel and then added in order, so the result is the same for any thread count.
  template <class T>
  static void sum_rows(T* out, const T* x, int64_t rows, int64_t n) {
    if (n <= kChunk) {
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * n > kParallelGrain)
      for (int64_t p = 0; p < rows; ++p) out[p] = static_cast<T>(sum_contiguous(x + p * n, n));
      return;
    }
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    std::vector<AccOf<T>> partial(static_cast<size_t>(rows * chunks));
#pragma omp parallel for num_threads(num_threads()) schedule(static)
    for (int64_t t = 0; t < rows * chunks; ++t) {
      const int64_t p = t / chunks, start = (t % chunks) * kChunk;
      partial[t] = sum_contiguous(x + p * n + start, std::min(kChunk, n - start));
    }
    for (int64_t p = 0; p < rows; ++p) {
      AccOf<T> total = 0;
      for (int64_t c = 0; c < chunks; ++c) total += partial[p * chunks + c];
      out[p] = static_cast<T>(total);
    }
  }

  // out[p, i] = sum_r x[p, r, i]: tasks over (p, a chunk of i), each summing its columns
  // over r in order (vectorised along i).
  template <class T>
  static void sum_columns(T* out, const T* x, int64_t outer, int64_t n, int64_t inner) {
    constexpr int64_t kColumns = 512;
    const int64_t chunks = (inner + kColumns - 1) / kColumns;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (outer * n * inner > kParallelGrain)
    for (int64_t t = 0; t < outer * chunks; ++t) {
      const int64_t p = t / chunks, i0 = (t % chunks) * kColumns, w = std::min(kColumns, inner - i0);
      AccOf<T> acc[kColumns];
      for (int64_t i = 0; i < w; ++i) acc[i] = 0;
      for (int64_t r = 0; r < n; ++r) {
        const T* row = x + (p * n + r) * inner + i0;
#pragma omp simd
        for (int64_t i = 0; i < w; ++i) acc[i] += row[i];
      }
      for (int64_t i = 0; i < w; ++i) out[p * inner + i0 + i] = static_cast<T>(acc[i]);
    }
  }

  // First maximum along r (NaN counts as the maximum, as in torch).
  template <class T>
  static void max_columns(T* out, int64_t* idx, const T* x, int64_t outer, int64_t n, int64_t inner) {
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (outer * n * inner > kParallelGrain)
    for (int64_t t = 0; t < outer * inner; ++t) {
      const int64_t p = t / inner, i = t % inner;
      const T* base = x + p * n * inner + i;
      T best = base[0];
      int64_t best_r = 0;
      for (int64_t r = 1; r < n && best == best; ++r) {  // stop at the first NaN
        const T v = base[r * inner];
        if (v > best || v != v) {
          best = v;
          best_r = r;
        }
      }
      out[t] = best;
      if (idx) idx[t] = best_r;
    }
  }

  template <class T>
  static double log_sum_exp(const T* row, int64_t cols) {
    double m = -INFINITY;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, static_cast<double>(row[c]));
    if (!std::isfinite(m)) return m;
    double s = 0;
    for (int64_t c = 0; c < cols; ++c) s += std::exp(row[c] - m);
    return m + std::log(s);
  }
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace ember
