// The CPU backend: plain loops over the shared per-element rules (kernels/*.h), OpenBLAS for
// GEMM, OpenMP across cores for large loops. Clarity first: this is the reference the CUDA
// backend is tested against.
#include <cblas.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/backend.h"
#include "core/strided_layout.h"
#include "kernels/elementwise_ops.h"
#include "kernels/philox.h"

namespace ember {

namespace {

constexpr int64_t kParallelGrain = 32768;  // below this many elements a loop stays on one thread

template <class T> using AccOf = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

template <int N, class F>
void for_each_offset(const kernels::StridedLayout<N>& layout, int64_t n, F&& f) {
  if (is_flat(layout)) {
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) {
      int64_t off[N];
      for (int k = 0; k < N; ++k) off[k] = i;
      f(off);
    }
    return;
  }
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    int64_t off[N];
    kernels::strided_offsets(layout, i, off);
    f(off);
  }
}

class CpuBackend final : public Backend {
 public:
  void copy(const Tensor& dst, const Tensor& src) override {
    const auto layout = make_strided_layout<2>({&dst, &src});
    dispatch_dtype(dst.dtype(), [&](auto dt) {
      using D = typename decltype(dt)::type;
      dispatch_dtype(src.dtype(), [&](auto st) {
        using S = typename decltype(st)::type;
        D* d = static_cast<D*>(dst.raw_data());
        const S* s = static_cast<const S*>(src.raw_data());
        for_each_offset(layout, dst.numel(), [&](const int64_t* off) { d[off[0]] = static_cast<D>(s[off[1]]); });
      });
    });
  }

  void fill(const Tensor& dst, double value) override {
    const auto layout = make_strided_layout<1>({&dst});
    dispatch_dtype(dst.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* d = static_cast<T*>(dst.raw_data());
      const T v = static_cast<T>(value);
      for_each_offset(layout, dst.numel(), [&](const int64_t* off) { d[off[0]] = v; });
    });
  }

  void unary(UnaryOp op, const Tensor& out, const Tensor& in, double scalar) override {
    const auto layout = make_strided_layout<2>({&out, &in});
    dispatch_floating(in.dtype(), "unary op", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* o = static_cast<T*>(out.raw_data());
      const T* x = static_cast<const T*>(in.raw_data());
      const T s = static_cast<T>(scalar);
      for_each_offset(layout, out.numel(),
                      [&](const int64_t* off) { o[off[0]] = kernels::apply_unary(op, x[off[1]], s); });
    });
  }

  void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, double alpha) override {
    const auto layout = make_strided_layout<3>({&out, &a, &b});
    dispatch_dtype(a.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = static_cast<const T*>(a.raw_data());
      const T* y = static_cast<const T*>(b.raw_data());
      if (kernels::is_comparison(op)) {
        uint8_t* o = static_cast<uint8_t*>(out.raw_data());
        for_each_offset(layout, out.numel(), [&](const int64_t* off) {
          o[off[0]] = kernels::apply_comparison(op, x[off[1]], y[off[2]]);
        });
      } else {
        T* o = static_cast<T*>(out.raw_data());
        const T al = static_cast<T>(alpha);
        for_each_offset(layout, out.numel(), [&](const int64_t* off) {
          o[off[0]] = kernels::apply_binary_arith(op, x[off[1]], y[off[2]], al);
        });
      }
    });
  }

  void reduce(ReduceOp op, const Tensor& out, const Tensor& indices, const Tensor& in, int64_t outer, int64_t n,
              int64_t inner) override {
    dispatch_dtype(in.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = static_cast<const T*>(in.raw_data());
      T* o = static_cast<T*>(out.raw_data());
      int64_t* idx = indices.defined() ? indices.data<int64_t>() : nullptr;
#pragma omp parallel for if (outer * n * inner > kParallelGrain)
      for (int64_t p = 0; p < outer; ++p) {
        const T* base = x + p * n * inner;
        if (op == ReduceOp::Sum) {
          std::vector<AccOf<T>> acc(static_cast<size_t>(inner), AccOf<T>(0));
          for (int64_t r = 0; r < n; ++r)
            for (int64_t i = 0; i < inner; ++i) acc[i] += base[r * inner + i];
          for (int64_t i = 0; i < inner; ++i) o[p * inner + i] = static_cast<T>(acc[i]);
        } else {
          for (int64_t i = 0; i < inner; ++i) {
            T best = base[i];
            int64_t best_r = 0;
            for (int64_t r = 1; r < n; ++r) {
              const T v = base[r * inner + i];
              if (best != best) break;               // NaN already wins
              if (v > best || v != v) best = v, best_r = r;  // first maximum; NaN wins
            }
            o[p * inner + i] = best;
            if (idx) idx[p * inner + i] = best_r;
          }
        }
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
      for (int64_t i = 0; i < g.batch; ++i) {
        if constexpr (std::is_same_v<T, float>) {
          cblas_sgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, static_cast<float>(g.alpha), A + i * g.stride_a, g.lda,
                      B + i * g.stride_b, g.ldb, static_cast<float>(g.beta), C + i * g.stride_c, g.ldc);
        } else {
          cblas_dgemm(CblasRowMajor, ta, tb, g.m, g.n, g.k, g.alpha, A + i * g.stride_a, g.lda, B + i * g.stride_b,
                      g.ldb, g.beta, C + i * g.stride_c, g.ldc);
        }
      }
    });
  }

  void log_softmax(const Tensor& out, const Tensor& in) override {
    const int64_t cols = in.size(-1), rows = in.numel() / cols;
    dispatch_floating(in.dtype(), "log_softmax", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = static_cast<const T*>(in.raw_data());
      T* o = static_cast<T*>(out.raw_data());
#pragma omp parallel for if (rows * cols > kParallelGrain)
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
#pragma omp parallel for if (rows * cols > kParallelGrain)
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
      for (int64_t i = 0; i < out.numel(); ++i) o[i] = static_cast<T>(start + static_cast<double>(i) * step);
    });
  }

  void random_uniform(const Tensor& out, uint64_t seed, uint64_t counter0, double low, double high) override {
    dispatch_floating(out.dtype(), "random_uniform", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* o = static_cast<T*>(out.raw_data());
      const int64_t n = out.numel();
#pragma omp parallel for if (n > kParallelGrain)
      for (int64_t i = 0; i < n; ++i) o[i] = kernels::philox_uniform<T>(seed, counter0, i, low, high);
    });
  }

  void random_normal(const Tensor& out, uint64_t seed, uint64_t counter0, double mean, double std) override {
    dispatch_floating(out.dtype(), "random_normal", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* o = static_cast<T*>(out.raw_data());
      const int64_t n = out.numel();
#pragma omp parallel for if (n > kParallelGrain)
      for (int64_t i = 0; i < n; ++i) o[i] = kernels::philox_normal<T>(seed, counter0, i, mean, std);
    });
  }

  void synchronize() override {}

 private:
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
