// LayerBackend: the computations of ember's layers on one device type, behind one small
// interface (like core/backend.h for the primitive ops). The ops in nn/*.cpp validate
// arguments, allocate outputs, record autograd nodes and then call these; a backend only
// computes. The CPU one (nn/cpu/) is im2col + OpenBLAS and plain loops, the CUDA one
// (nn/cuda/) is cuDNN plus a few kernels of ours (kernels/nn_pool.cu).
//
// Every Tensor argument is contiguous (NCHW activations, OIHW filters) - or, on CUDA,
// channels_last (NHWC activations, OHWI filters: Conv2dGeometry::channels_last, or a batch
// norm input with is_nhwc, nn/layer_checks.h) - of one floating dtype (float32 statistics and
// parameters with bfloat16 batch-norm activations) and on the backend's device; outputs are
// preallocated by the caller in the same layout and fully overwritten (never accumulated into).
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "kernels/nn_pool_rule.h"

namespace ember::nn {

// Geometry of one 2-D convolution (dilation 1, groups 1).
struct Conv2dGeometry {
  int64_t batch = 0, in_channels = 0, in_h = 0, in_w = 0;
  int64_t out_channels = 0, kernel_h = 0, kernel_w = 0;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  bool channels_last = false;  // input, output and filter NHWC (CUDA only)
  int64_t out_h() const { return (in_h + 2 * pad_h - kernel_h) / stride_h + 1; }
  int64_t out_w() const { return (in_w + 2 * pad_w - kernel_w) / stride_w + 1; }
};

// The backward of one convolution: grad_in when defined (from grad_out and weight), and
// grad_weight with grad_bias when grad_weight is defined (from grad_out and input).
struct Conv2dBackwardArgs {
  Tensor grad_in, grad_weight, grad_bias;  // written when defined
  Tensor grad_out, input, weight;          // read
};

// Geometry of one 2-D max pooling (dilation 1, floor mode).
struct Pool2dGeometry {
  int64_t batch = 0, channels = 0, in_h = 0, in_w = 0;
  int64_t kernel_h = 0, kernel_w = 0, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int64_t out_h() const { return (in_h + 2 * pad_h - kernel_h) / stride_h + 1; }
  int64_t out_w() const { return (in_w + 2 * pad_w - kernel_w) / stride_w + 1; }
  // What the shared pooling rule (kernels/nn_pool_rule.h) takes.
  kernels::Pool2dParams rule_params() const {
    return {in_h, in_w, out_h(), out_w(), kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w};
  }
};

// Spatial batch normalisation of x [N, C, H, W] with per-channel tensors [C].
struct BatchNormTrainArgs {
  Tensor out, save_mean, save_invstd;      // written: y, batch mean, 1/sqrt(biased var + eps)
  Tensor input, weight, bias;              // read
  Tensor running_mean, running_var;        // updated in place when defined (see batch_norm.h)
  double momentum = 0.1, eps = 1e-5;
  bool relu = false;                       // out = relu(y): only where fuses_batch_norm_relu(input)
};

// The backward of a training-mode batch norm (and of the fused batch norm + ReLU).
struct BatchNormBackwardArgs {
  Tensor grad_in, grad_weight, grad_bias;  // written
  Tensor grad_out, input, weight;          // read
  Tensor save_mean, save_invstd;           // the forward's batch statistics
  Tensor bias;                             // batch_norm_relu_backward only: its mask is recomputed
  double eps = 1e-5;
};

class LayerBackend {
 public:
  virtual ~LayerBackend() = default;

  // out [N, Cout, Ho, Wo] = conv(in [N, Cin, H, W], weight [Cout, Cin, kh, kw]) + bias [Cout]
  // (bias may be undefined).
  virtual void conv2d_forward(const Conv2dGeometry& g, const Tensor& out, const Tensor& in, const Tensor& weight,
                              const Tensor& bias) = 0;
  // grad_in [N, Cin, H, W] from grad_out [N, Cout, Ho, Wo] and weight.
  virtual void conv2d_backward_input(const Conv2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                                     const Tensor& weight) = 0;
  // grad_weight [Cout, Cin, kh, kw] and, when defined, grad_bias [Cout] from grad_out and in.
  virtual void conv2d_backward_weight(const Conv2dGeometry& g, const Tensor& grad_weight, const Tensor& grad_bias,
                                      const Tensor& grad_out, const Tensor& in) = 0;
  // The gradients a convolution's backward wants, in one call (so that a backend can share
  // work between the two passes: oneDNN reorders grad_out once). By default the two above.
  virtual void conv2d_backward(const Conv2dGeometry& g, const Conv2dBackwardArgs& a);

  // Training mode: normalise with the batch statistics, save them for the backward and
  // update the running statistics (momentum, unbiased variance) as torch does.
  virtual void batch_norm_forward_train(const BatchNormTrainArgs& a) = 0;
  // Evaluation mode: out = (in - running_mean) / sqrt(running_var + eps) * weight + bias.
  virtual void batch_norm_forward_eval(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias,
                                       const Tensor& running_mean, const Tensor& running_var, double eps) = 0;
  // Backward of the training-mode forward: grad_in, grad_weight, grad_bias (all written).
  virtual void batch_norm_backward(const BatchNormBackwardArgs& a) = 0;
  // Whether this backend fuses relu(batch_norm(input)) in training mode (BatchNormTrainArgs::
  // relu, batch_norm_relu_backward): the CUDA backend for bfloat16 and float32 NHWC activations
  // (those its own kernels handle), the oneDNN CPU layers for float32 and bfloat16 (ember's CPU
  // batch-norm kernels). Elsewhere nn::batch_norm_relu is the two ops.
  virtual bool fuses_batch_norm_relu(const Tensor& input) const {
    (void)input;
    return false;
  }
  // Backward of the fused forward: the gradient is masked where the output was 0 (the mask
  // recomputed from `input` and the statistics, so `bias` is needed too).
  virtual void batch_norm_relu_backward(const BatchNormBackwardArgs& a);

  // out [N, C, Ho, Wo] and int32 indices (h * W + w of each window's first maximum within its
  // input plane; NaN counts as the maximum, as in torch).
  virtual void max_pool2d_forward(const Pool2dGeometry& g, const Tensor& out, const Tensor& indices,
                                  const Tensor& in) = 0;
  virtual void max_pool2d_backward(const Pool2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                                   const Tensor& indices) = 0;
};

// Note [CPU layer backends]
// Two implementations of the CPU layers, chosen per process:
//  - reference (nn/cpu/): im2col + OpenBLAS and plain loops; float32, float64 (gradient
//    checks) and bfloat16 through float32. Simple and obviously correct: what the GPU and
//    oneDNN layers are tested against.
//  - onednn (nn/onednn/, where the build found oneDNN): oneDNN's convolutions in float32
//    (bfloat16 where the CPU has oneDNN's bfloat16 kernels) and ember's CPU batch-norm kernels
//    (nn/cpu/batch_norm_kernels_cpu.h, float32 statistics, ReLU fused); any other call -
//    float64, a shape or dtype oneDNN rejects - goes to the reference layers after a one-time
//    note on stderr.
// EMBER_CPU_LAYERS=reference|onednn picks one when the process first asks; without it oneDNN
// is the default where built. set_cpu_layers switches later (tests compare the two).
enum class CpuLayers { Reference, OneDnn };

// The selected CPU layers (throws a clear Error for a bad EMBER_CPU_LAYERS, or onednn in a
// build without oneDNN).
LayerBackend& cpu_layer_backend();
CpuLayers cpu_layers();
void set_cpu_layers(CpuLayers layers);
const char* cpu_layers_name(CpuLayers layers);
// "reference" or "onednn"; anything else is a UsageError naming the choices.
CpuLayers parse_cpu_layers(const std::string& name);
// Each implementation by name, whatever is selected.
LayerBackend& reference_layer_backend();
LayerBackend& onednn_layer_backend();  // throws a clear Error in a build without oneDNN
bool onednn_layers_built();
// Calls the oneDNN layers handed on (Note [oneDNN fallbacks] in nn/onednn/); the plans they
// hold (one per convolution pass or small-map product, shape, dtype and thread count,
// counting the shapes oneDNN has none for); convolution weight gradients taken as small-map
// products (Note [small-map backward weights]). All 0 without oneDNN.
int64_t onednn_fallback_calls();
size_t onednn_plan_count();
int64_t onednn_small_map_weight_calls();
// Throws a clear Error in a CPU-only build (nn/cuda_unavailable.cpp).
LayerBackend& cuda_layer_backend();
LayerBackend& layer_backend_for(Device device);

// Convolution plans the CUDA backend holds (one per shape, dtype and math mode; each cost
// one cudnnFind* benchmark when first seen). 0 in a CPU-only build.
size_t cudnn_conv_plan_count();

// Note [TF32 convolutions]
// Like PyTorch (torch.backends.cudnn.allow_tf32), ember lets cuDNN use TF32 tensor cores for
// float32 convolutions by default: about 10 mantissa bits in the products, accumulation in
// fp32. Tests that compare with the CPU at tight tolerances turn it off. The setting is read
// when a convolution runs and is part of the cuDNN plan cache key, so switching it takes
// effect at the next call.
void set_conv_tf32(bool enabled);
bool conv_tf32_enabled();

}  // namespace ember::nn
