// CPU convolution: im2col + GEMM over chunks of samples (Note [conv GEMM chunks]).
//
// For a chunk of m samples, col [K, m*P] holds the input patches (K = Cin*kh*kw rows, one
// column per output position P = Ho*Wo of each sample, zeros where the window hangs over
// the padding), and dy [Cout, m*P] the output gradients side by side. Then
//   forward          y  [Cout, m*P] = W [Cout, K] @ col            (+ bias per row)
//   backward input   col [K, m*P]   = W^T @ dy, added back into each input by col2im
//   backward weight  dW [Cout, K]  += dy @ col^T
// With one sample per chunk, y and dy are the sample's own [Cout, P] planes (no copy), and
// a 1x1 convolution with stride 1 and no padding needs no col either: the input is col.
// tests/nn/reference_layers.cpp holds the direct seven-loop convolution these are checked
// against.
//
// Note [conv GEMM chunks]
// One GEMM per sample is skinny in ResNet's later layers (P = 16 at 4x4, even 1 at 1x1):
// OpenBLAS then spends its time packing the whole weight for a handful of columns. So
// samples are grouped until a GEMM has about kTargetColumns columns, but into no fewer
// chunks than there are OpenMP threads: each thread then takes whole chunks - im2col,
// GEMM, col2im, all of it parallel - and OpenBLAS runs single-threaded inside
// (BlasSingleThreadScope, Note [batch-parallel GEMM]). Only a batch smaller than the
// thread count runs its chunks one after another, OpenBLAS threading each GEMM itself.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "nn/cpu/cpu_layer_backend.h"

namespace ember::nn {

namespace {

using cpu::BlasSingleThreadScope;
using cpu::gemm;

// Columns per GEMM that amortise packing the weight (OpenBLAS's sgemm blocks are 4-16
// columns wide and its packing costs about one pass over the weight per call).
constexpr int64_t kTargetColumns = 512;

// Output columns [lo, hi) of a kernel column kj whose input column ow*stride - pad + kj
// lies inside [0, in_w).
void valid_columns(const Conv2dGeometry& g, int64_t kj, int64_t* lo, int64_t* hi) {
  const int64_t wo = g.out_w();
  const int64_t first = g.pad_w - kj;                 // ow*stride >= pad - kj
  const int64_t last = g.in_w - 1 + g.pad_w - kj;     // ow*stride <= in_w - 1 + pad - kj
  *lo = first <= 0 ? 0 : std::min(wo, (first + g.stride_w - 1) / g.stride_w);
  *hi = last < 0 ? 0 : std::min(wo, last / g.stride_w + 1);
  if (*hi < *lo) *hi = *lo;
}

// How a convolution is cut into GEMMs.
struct ConvPlan {
  explicit ConvPlan(const Conv2dGeometry& g)
      : K(g.in_channels * g.kernel_h * g.kernel_w),
        P(g.out_h() * g.out_w()),
        in_sample(g.in_channels * g.in_h * g.in_w),
        out_sample(g.out_channels * P),
        identity_col(g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 &&
                     g.pad_w == 0),
        threads(num_threads()),
        chunk(std::clamp<int64_t>((kTargetColumns + P - 1) / P, 1, (g.batch + threads - 1) / threads)),
        chunks((g.batch + chunk - 1) / chunk),
        parallel(threads > 1 && chunks >= threads && g.batch * K * P > cpu::kParallelGrain) {}
  int64_t K, P, in_sample, out_sample;
  bool identity_col;  // 1x1, stride 1, no padding: a sample's input is its col
  int threads;
  int64_t chunk, chunks;
  bool parallel;
  int64_t max_columns() const { return chunk * P; }
};

// col rows [K, ld]: this sample's P columns of its patches, starting at `col`.
template <class T>
void im2col(const Conv2dGeometry& g, const T* in, T* col, int64_t ld) {
  const int64_t ho = g.out_h(), wo = g.out_w(), plane = g.in_h * g.in_w;
  for (int64_t c = 0; c < g.in_channels; ++c) {
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        T* row = col + ((c * g.kernel_h + ki) * g.kernel_w + kj) * ld;
        int64_t lo, hi;
        valid_columns(g, kj, &lo, &hi);
        const int64_t shift = kj - g.pad_w;
        for (int64_t oh = 0; oh < ho; ++oh) {
          T* dst = row + oh * wo;
          const int64_t ih = oh * g.stride_h - g.pad_h + ki;
          if (ih < 0 || ih >= g.in_h) {
            std::fill(dst, dst + wo, T(0));
            continue;
          }
          const T* src = in + c * plane + ih * g.in_w;  // column ow reads src[ow*stride + shift]
          std::fill(dst, dst + lo, T(0));
          if (g.stride_w == 1) {
            if (hi > lo) std::memcpy(dst + lo, src + lo + shift, (hi - lo) * sizeof(T));
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * g.stride_w + shift];
          }
          std::fill(dst + hi, dst + wo, T(0));
        }
      }
    }
  }
}

// Adds this sample's P columns of col (rows [K, ld]) back into its input gradient [Cin, H, W].
template <class T>
void col2im(const Conv2dGeometry& g, const T* col, int64_t ld, T* in) {
  const int64_t ho = g.out_h(), wo = g.out_w(), plane = g.in_h * g.in_w;
  for (int64_t c = 0; c < g.in_channels; ++c) {
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        const T* row = col + ((c * g.kernel_h + ki) * g.kernel_w + kj) * ld;
        int64_t lo, hi;
        valid_columns(g, kj, &lo, &hi);
        const int64_t shift = kj - g.pad_w;
        for (int64_t oh = 0; oh < ho; ++oh) {
          const int64_t ih = oh * g.stride_h - g.pad_h + ki;
          if (ih < 0 || ih >= g.in_h) continue;
          T* dst = in + c * plane + ih * g.in_w;
          const T* src = row + oh * wo;
          for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.stride_w + shift] += src[ow];
        }
      }
    }
  }
}

// Per-thread scratch of one pass, uninitialised: col and a [Cout, m*P] output or gradient
// block (each allocated only when some chunk needs it).
template <class T>
struct Scratch {
  Scratch(const ConvPlan& p, const Conv2dGeometry& g)
      : col(p.identity_col && p.chunk == 1 ? nullptr : new T[p.K * p.max_columns()]),
        block(p.chunk == 1 ? nullptr : new T[g.out_channels * p.max_columns()]) {}
  std::unique_ptr<T[]> col, block;
};

// The patches of samples [n0, n0 + m) as one [K, m*P] matrix (the input itself when it
// already is one).
template <class T>
const T* gather_col(const ConvPlan& p, const Conv2dGeometry& g, const T* in, int64_t n0, int64_t m, T* col) {
  if (p.identity_col && m == 1) return in + n0 * p.in_sample;
  for (int64_t s = 0; s < m; ++s) im2col(g, in + (n0 + s) * p.in_sample, col + s * p.P, m * p.P);
  return col;
}

// Output gradients of samples [n0, n0 + m) side by side as [Cout, m*P].
template <class T>
const T* gather_dy(const ConvPlan& p, const Conv2dGeometry& g, const T* dy, int64_t n0, int64_t m, T* block) {
  if (m == 1) return dy + n0 * p.out_sample;
  for (int64_t s = 0; s < m; ++s)
    for (int64_t oc = 0; oc < g.out_channels; ++oc)
      std::memcpy(block + oc * m * p.P + s * p.P, dy + (n0 + s) * p.out_sample + oc * p.P, p.P * sizeof(T));
  return block;
}

// Runs body(n0, m, scratch) over the chunks (Note [conv GEMM chunks]); thread t's index
// goes to body as well so that it can keep per-thread accumulators.
template <class T, class F>
void for_each_chunk(const ConvPlan& p, const Conv2dGeometry& g, F&& body) {
  BlasSingleThreadScope blas_scope(p.parallel);
#pragma omp parallel num_threads(p.threads) if (p.parallel)
  {
    Scratch<T> scratch(p, g);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < p.chunks; ++c) {
      const int64_t n0 = c * p.chunk, m = std::min(p.chunk, g.batch - n0);
      body(n0, m, scratch, omp_get_thread_num());
    }
  }
}

template <class T>
void conv_forward(const Conv2dGeometry& g, T* out, const T* in, const T* w, const T* bias) {
  const ConvPlan p(g);
  for_each_chunk<T>(p, g, [&](int64_t n0, int64_t m, Scratch<T>& s, int) {
    const int64_t cols = m * p.P;
    const T* col = gather_col(p, g, in, n0, m, s.col.get());
    T* y = m == 1 ? out + n0 * p.out_sample : s.block.get();
    gemm<T>(false, false, g.out_channels, cols, p.K, T(1), w, p.K, col, cols, T(0), y, cols);
    for (int64_t k = 0; k < m; ++k)
      for (int64_t oc = 0; oc < g.out_channels; ++oc) {
        T* dst = out + (n0 + k) * p.out_sample + oc * p.P;
        const T* src = y + oc * cols + k * p.P;
        const T b = bias != nullptr ? bias[oc] : T(0);
        if (dst != src) std::memcpy(dst, src, p.P * sizeof(T));
        if (bias != nullptr)
          for (int64_t i = 0; i < p.P; ++i) dst[i] += b;
      }
  });
}

template <class T>
void conv_backward_input(const Conv2dGeometry& g, T* grad_in, const T* grad_out, const T* w) {
  const ConvPlan p(g);
  for_each_chunk<T>(p, g, [&](int64_t n0, int64_t m, Scratch<T>& s, int) {
    const int64_t cols = m * p.P;
    const T* dy = gather_dy(p, g, grad_out, n0, m, s.block.get());
    if (p.identity_col && m == 1) {  // the input gradient is W^T @ dy itself
      gemm<T>(true, false, p.K, cols, g.out_channels, T(1), w, p.K, dy, cols, T(0), grad_in + n0 * p.in_sample, cols);
      return;
    }
    gemm<T>(true, false, p.K, cols, g.out_channels, T(1), w, p.K, dy, cols, T(0), s.col.get(), cols);
    for (int64_t k = 0; k < m; ++k) {
      T* dst = grad_in + (n0 + k) * p.in_sample;
      std::fill(dst, dst + p.in_sample, T(0));
      col2im(g, s.col.get() + k * p.P, cols, dst);
    }
  });
}

template <class T>
void conv_backward_weight(const Conv2dGeometry& g, T* grad_w, T* grad_bias, const T* grad_out, const T* in) {
  const ConvPlan p(g);
  const int64_t wsize = g.out_channels * p.K;
  const int threads = p.parallel ? p.threads : 1;
  // One partial sum per thread (thread 0's is grad_w itself), zeroed first and added up in
  // a fixed order at the end, so the result does not depend on scheduling.
  std::vector<T> partials(static_cast<size_t>((threads - 1) * wsize), T(0));
  std::fill(grad_w, grad_w + wsize, T(0));
  for_each_chunk<T>(p, g, [&](int64_t n0, int64_t m, Scratch<T>& s, int thread) {
    const int64_t cols = m * p.P;
    const T* col = gather_col(p, g, in, n0, m, s.col.get());
    const T* dy = gather_dy(p, g, grad_out, n0, m, s.block.get());
    T* acc = thread == 0 ? grad_w : partials.data() + (thread - 1) * wsize;
    gemm<T>(false, true, g.out_channels, p.K, cols, T(1), dy, cols, col, cols, T(1), acc, p.K);
  });
  for (int t = 1; t < threads; ++t) {
    const T* part = partials.data() + (t - 1) * wsize;
#pragma omp parallel for num_threads(num_threads()) if (wsize > cpu::kParallelGrain)
    for (int64_t i = 0; i < wsize; ++i) grad_w[i] += part[i];
  }
  if (grad_bias != nullptr) {
#pragma omp parallel for num_threads(num_threads()) if (g.batch * p.out_sample > cpu::kParallelGrain)
    for (int64_t oc = 0; oc < g.out_channels; ++oc) {
      double total = 0;
      for (int64_t n = 0; n < g.batch; ++n) {
        const T* row = grad_out + n * p.out_sample + oc * p.P;
        for (int64_t i = 0; i < p.P; ++i) total += row[i];
      }
      grad_bias[oc] = static_cast<T>(total);
    }
  }
}

template <class T> T* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

}  // namespace

void CpuLayerBackend::conv2d_forward(const Conv2dGeometry& g, const Tensor& out, const Tensor& in,
                                     const Tensor& weight, const Tensor& bias) {
  dispatch_floating(in.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv_forward<T>(g, out.data<T>(), in.data<T>(), weight.data<T>(), ptr_or_null<T>(bias));
  });
}

void CpuLayerBackend::conv2d_backward_input(const Conv2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                                            const Tensor& weight) {
  dispatch_floating(grad_out.dtype(), "conv2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv_backward_input<T>(g, grad_in.data<T>(), grad_out.data<T>(), weight.data<T>());
  });
}

void CpuLayerBackend::conv2d_backward_weight(const Conv2dGeometry& g, const Tensor& grad_weight,
                                             const Tensor& grad_bias, const Tensor& grad_out, const Tensor& in) {
  dispatch_floating(grad_out.dtype(), "conv2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv_backward_weight<T>(g, grad_weight.data<T>(), ptr_or_null<T>(grad_bias), grad_out.data<T>(), in.data<T>());
  });
}

}  // namespace ember::nn
