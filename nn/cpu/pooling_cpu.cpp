// CPU max pooling: the shared rule (kernels/nn_pool_rule.h) in loops over the planes, one
// (n, c) plane per OpenMP iteration. The backward gathers (each input sums the windows that
// chose it), exactly as the CUDA kernel does, so both run the same arithmetic.
#include "kernels/nn_pool_rule.h"
#include "nn/cpu/cpu_layer_backend.h"

namespace ember::nn {

void CpuLayerBackend::max_pool2d_forward(const Pool2dGeometry& g, const Tensor& out, const Tensor& indices,
                                         const Tensor& in) {
  const kernels::Pool2dParams p = g.rule_params();
  const int64_t planes = g.batch * g.channels, in_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
  dispatch_floating(in.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in.data<T>();
    T* y = out.data<T>();
    int32_t* idx = indices.data<int32_t>();
    const int64_t work = planes * out_plane * p.kernel_h * p.kernel_w;
#pragma omp parallel for num_threads(num_threads()) if (work > cpu::kParallelGrain)
    for (int64_t plane = 0; plane < planes; ++plane)
      for (int64_t oh = 0; oh < p.out_h; ++oh)
        for (int64_t ow = 0; ow < p.out_w; ++ow) {
          const int64_t o = plane * out_plane + oh * p.out_w + ow;
          kernels::max_pool_output(x + plane * in_plane, p, oh, ow, &y[o], &idx[o]);
        }
  });
}

void CpuLayerBackend::max_pool2d_backward(const Pool2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                                          const Tensor& indices) {
  const kernels::Pool2dParams p = g.rule_params();
  const int64_t planes = g.batch * g.channels, in_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
  dispatch_floating(grad_out.dtype(), "max_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* gy = grad_out.data<T>();
    const int32_t* idx = indices.data<int32_t>();
    T* gx = grad_in.data<T>();
#pragma omp parallel for num_threads(num_threads()) if (planes * in_plane > cpu::kParallelGrain)
    for (int64_t plane = 0; plane < planes; ++plane)
      for (int64_t ih = 0; ih < p.in_h; ++ih)
        for (int64_t iw = 0; iw < p.in_w; ++iw)
          gx[plane * in_plane + ih * p.in_w + iw] =
              kernels::max_pool_input_grad(gy + plane * out_plane, idx + plane * out_plane, p, ih, iw);
  });
}

}  // namespace ember::nn
