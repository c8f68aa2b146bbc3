// CPU convolution: im2col + GEMM, per sample (Note [batch-parallel GEMM]).
//
// For one sample, col [K, P] holds the input patches (K = Cin*kh*kw rows, one column per
// output position P = Ho*Wo, zeros where the window hangs over the padding). Then
//   forward          out_n  [Cout, P] = W [Cout, K] @ col_n            (+ bias per row)
//   backward input   col    [K, P]    = W^T @ grad_out_n, scattered back by col2im
//   backward weight  grad_W [Cout, K] = sum_n grad_out_n @ col_n^T
// A 1x1 convolution with stride 1 and no padding needs no col: the input plane is col.
// tests/nn/reference_layers.cpp holds the direct seven-loop convolution these are checked
// against.
#include <algorithm>
#include <cstring>
#include <vector>

#include "nn/cpu/cpu_layer_backend.h"

namespace ember::nn {

namespace {

using cpu::batch_parallel;
using cpu::BlasSingleThreadScope;
using cpu::gemm;

bool needs_col(const Conv2dGeometry& g) {
  return !(g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0);
}

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

// The sizes every pass needs: K rows and P columns of col, elements per sample.
struct Sizes {
  explicit Sizes(const Conv2dGeometry& g)
      : K(g.in_channels * g.kernel_h * g.kernel_w),
        P(g.out_h() * g.out_w()),
        in_sample(g.in_channels * g.in_h * g.in_w),
        out_sample(g.out_channels * P),
        col_needed(needs_col(g)),
        parallel(batch_parallel(g.batch, K * P)) {}
  int64_t K, P, in_sample, out_sample;
  bool col_needed, parallel;
};

// col [K, P] from one sample's input [Cin, H, W].
template <class T>
void im2col(const Conv2dGeometry& g, const T* in, T* col) {
  const int64_t ho = g.out_h(), wo = g.out_w(), plane = g.in_h * g.in_w;
  for (int64_t c = 0; c < g.in_channels; ++c) {
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        T* row = col + ((c * g.kernel_h + ki) * g.kernel_w + kj) * ho * wo;
        int64_t lo, hi;
        valid_columns(g, kj, &lo, &hi);
        for (int64_t oh = 0; oh < ho; ++oh) {
          T* dst = row + oh * wo;
          const int64_t ih = oh * g.stride_h - g.pad_h + ki;
          if (ih < 0 || ih >= g.in_h) {
            std::fill(dst, dst + wo, T(0));
            continue;
          }
          const T* src = in + c * plane + ih * g.in_w;  // column ow reads src[ow*stride - pad + kj]
          const int64_t shift = kj - g.pad_w;
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

// Adds col [K, P] back into one sample's input gradient [Cin, H, W] (zeroed by the caller).
template <class T>
void col2im(const Conv2dGeometry& g, const T* col, T* in) {
  const int64_t ho = g.out_h(), wo = g.out_w(), plane = g.in_h * g.in_w;
  for (int64_t c = 0; c < g.in_channels; ++c) {
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        const T* row = col + ((c * g.kernel_h + ki) * g.kernel_w + kj) * ho * wo;
        int64_t lo, hi;
        valid_columns(g, kj, &lo, &hi);
        for (int64_t oh = 0; oh < ho; ++oh) {
          const int64_t ih = oh * g.stride_h - g.pad_h + ki;
          if (ih < 0 || ih >= g.in_h) continue;
          T* dst = in + c * plane + ih * g.in_w;
          const T* src = row + oh * wo;
          const int64_t shift = kj - g.pad_w;
          for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.stride_w + shift] += src[ow];
        }
      }
    }
  }
}

template <class T>
void conv_forward(const Conv2dGeometry& g, T* out, const T* in, const T* w, const T* bias) {
  const Sizes z(g);
  const int64_t K = z.K, P = z.P, in_sample = z.in_sample, out_sample = z.out_sample;
  const bool col_needed = z.col_needed, parallel = z.parallel;
  BlasSingleThreadScope blas_scope(parallel);
#pragma omp parallel if (parallel)
  {
    std::vector<T> col(col_needed ? K * P : 0);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n) {
      const T* src = in + n * in_sample;
      if (col_needed) {
        im2col(g, src, col.data());
        src = col.data();
      }
      T* dst = out + n * out_sample;
      gemm<T>(false, false, g.out_channels, P, K, T(1), w, K, src, P, T(0), dst, P);
      if (bias != nullptr)
        for (int64_t oc = 0; oc < g.out_channels; ++oc)
          for (int64_t p = 0; p < P; ++p) dst[oc * P + p] += bias[oc];
    }
  }
}

template <class T>
void conv_backward_input(const Conv2dGeometry& g, T* grad_in, const T* grad_out, const T* w) {
  const Sizes z(g);
  const int64_t K = z.K, P = z.P, in_sample = z.in_sample, out_sample = z.out_sample;
  const bool col_needed = z.col_needed, parallel = z.parallel;
  BlasSingleThreadScope blas_scope(parallel);
#pragma omp parallel if (parallel)
  {
    std::vector<T> col(col_needed ? K * P : 0);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n) {
      T* dst = grad_in + n * in_sample;
      T* target = col_needed ? col.data() : dst;
      gemm<T>(true, false, K, P, g.out_channels, T(1), w, K, grad_out + n * out_sample, P, T(0), target, P);
      if (col_needed) {
        std::fill(dst, dst + in_sample, T(0));
        col2im(g, col.data(), dst);
      }
    }
  }
}

template <class T>
void conv_backward_weight(const Conv2dGeometry& g, T* grad_w, T* grad_bias, const T* grad_out, const T* in) {
  const Sizes z(g);
  const int64_t K = z.K, P = z.P, in_sample = z.in_sample, out_sample = z.out_sample, wsize = g.out_channels * K;
  const bool col_needed = z.col_needed, parallel = z.parallel;
  const int threads = parallel ? omp_get_max_threads() : 1;
  // One partial sum of grad_w per thread (thread 0's is grad_w itself), added up at the end
  // in a fixed order, so the result does not depend on scheduling.
  std::vector<T> partials(static_cast<size_t>((threads - 1) * wsize));
  BlasSingleThreadScope blas_scope(parallel);
#pragma omp parallel num_threads(threads) if (parallel)
  {
    const int t = omp_get_thread_num();
    T* acc = t == 0 ? grad_w : partials.data() + (t - 1) * wsize;
    std::fill(acc, acc + wsize, T(0));
    std::vector<T> col(col_needed ? K * P : 0);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n) {
      const T* src = in + n * in_sample;
      if (col_needed) {
        im2col(g, src, col.data());
        src = col.data();
      }
      gemm<T>(false, true, g.out_channels, K, P, T(1), grad_out + n * out_sample, P, src, P, T(1), acc, K);
    }
  }
  for (int t = 1; t < threads; ++t) {
    const T* part = partials.data() + (t - 1) * wsize;
#pragma omp parallel for if (wsize > cpu::kParallelGrain)
    for (int64_t i = 0; i < wsize; ++i) grad_w[i] += part[i];
  }
  if (grad_bias != nullptr) {
#pragma omp parallel for if (g.batch * out_sample > cpu::kParallelGrain)
    for (int64_t oc = 0; oc < g.out_channels; ++oc) {
      double total = 0;
      for (int64_t n = 0; n < g.batch; ++n) {
        const T* row = grad_out + n * out_sample + oc * P;
        for (int64_t p = 0; p < P; ++p) total += row[p];
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
