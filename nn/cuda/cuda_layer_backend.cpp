// The CUDA layer backend's entry point and its pooling (ember's kernels, kernels/nn_pool.cu);
// convolutions are in cudnn_conv.cpp, batch norm in cudnn_batch_norm.cpp.
#include "nn/cuda/cuda_layer_backend.h"

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "kernels/nn_pool.h"

namespace ember::nn {

LayerBackend& cuda_layer_backend() {
  check_device_usable(Device::cuda());
  static CudaLayerBackend backend;
  return backend;
}

void CudaLayerBackend::max_pool2d_forward(const Pool2dGeometry& g, const Tensor& out, const Tensor& indices,
                                          const Tensor& in) {
  dispatch_floating_bf16(in.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    EMBER_CUDA_LAUNCH_CHECK(kernels::launch_max_pool2d_forward<T>(out.data<T>(), indices.data<int32_t>(), in.data<T>(),
                                                                  g.batch * g.channels, g.rule_params(),
                                                                  ember::cuda::stream()));
  });
}

void CudaLayerBackend::max_pool2d_backward(const Pool2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                                           const Tensor& indices) {
  dispatch_floating_bf16(grad_out.dtype(), "max_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    EMBER_CUDA_LAUNCH_CHECK(kernels::launch_max_pool2d_backward<T>(grad_in.data<T>(), grad_out.data<T>(),
                                                                   indices.data<int32_t>(), g.batch * g.channels,
                                                                   g.rule_params(), ember::cuda::stream()));
  });
}

}  // namespace ember::nn
