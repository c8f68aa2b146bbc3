// CPU max pooling: the shared rule (kernels/nn_pool_rule.h) in loops over the planes, one
// (n, c) plane per OpenMP iteration. The backward gathers (each input sums the windows that
// chose it), exactly as the CUDA kernel does, so both run the same arithmetic. The window and
// covering-output ranges along the width are worked out once per call, along the height once
// per row, not per element (their integer divisions made the loops several times slower).
#include <utility>
#include <vector>

#include "kernels/nn_pool_rule.h"
#include "nn/cpu/cpu_layer_backend.h"

namespace ember::nn {

namespace {

using Range = std::pair<int64_t, int64_t>;

// Each output column's clipped window [first, second) of input columns.
std::vector<Range> window_columns(const kernels::Pool2dParams& p) {
  std::vector<Range> columns(static_cast<size_t>(p.out_w));
  for (int64_t ow = 0; ow < p.out_w; ++ow)
    kernels::pool_window(ow, p.kernel_w, p.stride_w, p.pad_w, p.in_w, &columns[ow].first, &columns[ow].second);
  return columns;
}

// Each input column's covering output columns [first, second).
std::vector<Range> covering_columns(const kernels::Pool2dParams& p) {
  std::vector<Range> columns(static_cast<size_t>(p.in_w));
  for (int64_t iw = 0; iw < p.in_w; ++iw)
    kernels::pool_covering_outputs(iw, p.kernel_w, p.stride_w, p.pad_w, p.out_w, &columns[iw].first,
                                   &columns[iw].second);
  return columns;
}

}  // namespace

void CpuLayerBackend::max_pool2d_forward(const Pool2dGeometry& g, const Tensor& out, const Tensor& indices,
                                         const Tensor& in) {
  const kernels::Pool2dParams p = g.rule_params();
  const int64_t planes = g.batch * g.channels, in_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
  const std::vector<Range> columns = window_columns(p);
  dispatch_floating(in.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in.data<T>();
    T* y = out.data<T>();
    int32_t* idx = indices.data<int32_t>();
    const int64_t work = planes * out_plane * p.kernel_h * p.kernel_w;
#pragma omp parallel for num_threads(num_threads()) if (work > cpu::kParallelGrain)
    for (int64_t plane = 0; plane < planes; ++plane)
      for (int64_t oh = 0; oh < p.out_h; ++oh) {
        int64_t h_begin, h_end;
        kernels::pool_window(oh, p.kernel_h, p.stride_h, p.pad_h, p.in_h, &h_begin, &h_end);
        for (int64_t ow = 0; ow < p.out_w; ++ow) {
          const int64_t o = plane * out_plane + oh * p.out_w + ow;
          kernels::max_pool_window(x + plane * in_plane, p.in_w, h_begin, h_end, columns[ow].first,
                                   columns[ow].second, &y[o], &idx[o]);
        }
      }
  });
}

void CpuLayerBackend::max_pool2d_backward(const Pool2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                                          const Tensor& indices) {
  const kernels::Pool2dParams p = g.rule_params();
  const int64_t planes = g.batch * g.channels, in_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
  const std::vector<Range> columns = covering_columns(p);
  dispatch_floating(grad_out.dtype(), "max_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* gy = grad_out.data<T>();
    const int32_t* idx = indices.data<int32_t>();
    T* gx = grad_in.data<T>();
#pragma omp parallel for num_threads(num_threads()) if (planes * in_plane > cpu::kParallelGrain)
    for (int64_t plane = 0; plane < planes; ++plane)
      for (int64_t ih = 0; ih < p.in_h; ++ih) {
        int64_t oh0, oh1;
        kernels::pool_covering_outputs(ih, p.kernel_h, p.stride_h, p.pad_h, p.out_h, &oh0, &oh1);
        for (int64_t iw = 0; iw < p.in_w; ++iw) {
          const auto me = static_cast<int32_t>(ih * p.in_w + iw);
          gx[plane * in_plane + me] = kernels::max_pool_gathered_grad(
              gy + plane * out_plane, idx + plane * out_plane, p.out_w, me, oh0, oh1, columns[iw].first,
              columns[iw].second);
        }
      }
  });
}

}  // namespace ember::nn
