// cuDNN spatial batch normalisation (CUDNN_BATCHNORM_SPATIAL: statistics over N, H, W per
// channel), still offered by cuDNN 9's legacy API (cudnn_ops.h).
//
// cuDNN's conventions match torch's (PyTorch itself calls these functions): the
// exponential average factor is torch's momentum; the running variance is updated with the
// unbiased batch variance; "saveInvVariance" is 1/sqrt(biased var + eps), our save_invstd.
// Descriptors are cached per (device, dtype, shape).
//
// bfloat16 activations (mixed precision, float32 parameters and statistics) and float32 NHWC
// ones go to ember's own kernels (kernels/nn_batch_norm.cu; ember_kernels() below).
#include <map>
#include <mutex>
#include <tuple>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/ops.h"
#include "kernels/launch.h"
#include "kernels/nn_batch_norm.h"
#include "nn/cuda/cuda_layer_backend.h"
#include "nn/cuda/cudnn_handle.h"
#include "nn/layer_checks.h"

namespace ember::nn {

namespace {

using cuda::BlendFactors;
using cuda::cudnn_handle;
using cuda::TensorDescriptor;

constexpr cudnnBatchNormMode_t kMode = CUDNN_BATCHNORM_SPATIAL;

struct BnDescriptors {
  TensorDescriptor x;        // [N, C, H, W], also used for y, dy and dx
  TensorDescriptor channel;  // [1, C, 1, 1] derived from x: weight, bias, statistics
};

// The cached descriptors for x's shape and dtype; valid for the life of the process.
const BnDescriptors& descriptors_for(const Tensor& x) {
  static std::mutex mutex;
  static auto* cache =
      new std::map<std::tuple<int, DType, bool, int64_t, int64_t, int64_t, int64_t>, BnDescriptors>();
  int device = 0;
  EMBER_CUDA_CHECK(cudaGetDevice(&device));
  const bool nhwc = is_nhwc(x);
  const auto key = std::make_tuple(device, x.dtype(), nhwc, x.size(0), x.size(1), x.size(2), x.size(3));
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache->find(key);
  if (it == cache->end()) {
    BnDescriptors d;
    d.x = cuda::nchw_descriptor(x.dtype(), x.size(0), x.size(1), x.size(2), x.size(3), nhwc);
    EMBER_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(d.channel.get(), d.x.get(), kMode));
    it = cache->emplace(key, std::move(d)).first;
  }
  return it->second;
}

void* data_or_null(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }
float* float_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

kernels::BnShape bn_shape(const Tensor& x) { return {x.size(0), x.size(1), x.size(2) * x.size(3), is_nhwc(x)}; }

// Scratch for the per-block partial sums, from ember's allocator (stream-ordered, and from
// the graph's pool while a CUDA graph is captured).
Tensor bn_partials(const kernels::BnShape& s, int splits, Device device) {
  return empty({kernels::bn_partials_floats(s, splits)}, TensorOptions().device(device));
}

// Activations in ember's kernels (kernels/nn_batch_norm.cu): bfloat16 (cuDNN's batch norm
// takes float and double only) and float32 NHWC (cuDNN's legacy batch norm is reported slow
// on NHWC; PyTorch uses its persistent mode there). Anything else goes to cuDNN.
bool ember_kernels(const Tensor& x) {
  return x.dtype() == DType::BFloat16 || (x.dtype() == DType::Float32 && is_nhwc(x));
}

// Calls f(TypeTag<T>) with the activation type of ember's kernels.
template <class F>
void dispatch_activation(const Tensor& x, F&& f) {
  if (x.dtype() == DType::BFloat16)
    f(TypeTag<bfloat16>{});
  else
    f(TypeTag<float>{});
}

// ember's backward; with `a.bias`, the fused relu's (its gradient masked first).
void ember_batch_norm_backward(const BatchNormBackwardArgs& a) {
  const kernels::BnShape s = bn_shape(a.input);
  const int splits = kernels::bn_splits(s, kernels::multiprocessor_count());
  const Tensor partials = bn_partials(s, splits, a.input.device());
  dispatch_activation(a.input, [&](auto tag) {
    using T = typename decltype(tag)::type;
    EMBER_CUDA_LAUNCH_CHECK(kernels::launch_batch_norm_backward<T>(
        a.grad_in.data<T>(), a.grad_weight.data<float>(), a.grad_bias.data<float>(), a.grad_out.data<T>(),
        a.input.data<T>(), a.weight.data<float>(), float_or_null(a.bias), a.save_mean.data<float>(),
        a.save_invstd.data<float>(), partials.data<float>(), s, splits, a.bias.defined(), ember::cuda::stream()));
  });
}

}  // namespace

bool CudaLayerBackend::fuses_batch_norm_relu(const Tensor& input) const { return ember_kernels(input); }

void CudaLayerBackend::batch_norm_forward_train(const BatchNormTrainArgs& a) {
  if (ember_kernels(a.input)) {
    const kernels::BnShape s = bn_shape(a.input);
    const int splits = kernels::bn_splits(s, kernels::multiprocessor_count());
    const Tensor partials = bn_partials(s, splits, a.input.device());
    dispatch_activation(a.input, [&](auto tag) {
      using T = typename decltype(tag)::type;
      EMBER_CUDA_LAUNCH_CHECK(kernels::launch_batch_norm_forward_train<T>(
          a.out.data<T>(), a.save_mean.data<float>(), a.save_invstd.data<float>(), float_or_null(a.running_mean),
          float_or_null(a.running_var), a.input.data<T>(), a.weight.data<float>(), a.bias.data<float>(),
          partials.data<float>(), s, splits, a.momentum, a.eps, a.relu, ember::cuda::stream()));
    });
    return;
  }
  EMBER_CHECK(!a.relu, "internal: cuDNN's batch norm is not fused with relu here");
  const BnDescriptors& d = descriptors_for(a.input);
  const BlendFactors f(a.input.dtype());
  EMBER_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      cudnn_handle(), kMode, f.one(), f.zero(), d.x.get(), a.input.raw_data(), d.x.get(), a.out.raw_data(),
      d.channel.get(), a.weight.raw_data(), a.bias.raw_data(), a.momentum, data_or_null(a.running_mean),
      data_or_null(a.running_var), a.eps, a.save_mean.raw_data(), a.save_invstd.raw_data()));
}

void CudaLayerBackend::batch_norm_forward_eval(const Tensor& out, const Tensor& in, const Tensor& weight,
                                               const Tensor& bias, const Tensor& running_mean,
                                               const Tensor& running_var, double eps) {
  if (ember_kernels(in)) {
    dispatch_activation(in, [&](auto tag) {
      using T = typename decltype(tag)::type;
      EMBER_CUDA_LAUNCH_CHECK(kernels::launch_batch_norm_forward_eval<T>(
          out.data<T>(), in.data<T>(), weight.data<float>(), bias.data<float>(), running_mean.data<float>(),
          running_var.data<float>(), bn_shape(in), eps, ember::cuda::stream()));
    });
    return;
  }
  const BnDescriptors& d = descriptors_for(in);
  const BlendFactors f(in.dtype());
  EMBER_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
      cudnn_handle(), kMode, f.one(), f.zero(), d.x.get(), in.raw_data(), d.x.get(), out.raw_data(), d.channel.get(),
      weight.raw_data(), bias.raw_data(), running_mean.raw_data(), running_var.raw_data(), eps));
}

void CudaLayerBackend::batch_norm_relu_backward(const BatchNormBackwardArgs& a) {
  EMBER_CHECK(ember_kernels(a.input) && a.bias.defined(), "internal: batch norm + relu is fused in ember's kernels only");
  ember_batch_norm_backward(a);
}

void CudaLayerBackend::batch_norm_backward(const BatchNormBackwardArgs& a) {
  if (ember_kernels(a.input)) {
    BatchNormBackwardArgs plain = a;
    plain.bias = Tensor();  // no relu mask
    return ember_batch_norm_backward(plain);
  }
  const BnDescriptors& d = descriptors_for(a.input);
  const BlendFactors f(a.input.dtype());
  EMBER_CUDNN_CHECK(cudnnBatchNormalizationBackward(
      cudnn_handle(), kMode, f.one(), f.zero(), f.one(), f.zero(), d.x.get(), a.input.raw_data(), d.x.get(),
      a.grad_out.raw_data(), d.x.get(), a.grad_in.raw_data(), d.channel.get(), a.weight.raw_data(),
      a.grad_weight.raw_data(), a.grad_bias.raw_data(), a.eps, a.save_mean.raw_data(), a.save_invstd.raw_data()));
}

}  // namespace ember::nn
