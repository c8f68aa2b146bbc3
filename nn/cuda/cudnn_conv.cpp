// cuDNN convolutions (legacy v7 API, still in cuDNN 9): forward, backward-data,
// backward-filter and the bias terms.
//
// Note [convolution plans]
// Each distinct (device, dtype, TF32 switch, deterministic switch, geometry) gets one
// ConvPlan holding its cuDNN descriptors and, per direction, the algorithm cudnnFind*Ex
// measured fastest (the first call of that direction runs the benchmark, on the real tensors,
// with a workspace from ember's caching allocator as large as the hungriest algorithm asks,
// up to kMaxFindWorkspace), or in deterministic mode the first deterministic algorithm of
// cuDNN's heuristics (Note [deterministic convolutions] in nn/conv_algorithms.h; no
// benchmark, no workspace needed to choose). Later calls only look the plan up and allocate the chosen algorithm's
// workspace from the caching allocator: no cudaMalloc, no host synchronisation, which is
// what CUDA-graph capture of a warmed-up step needs. Each direction has its own convolution
// descriptor because the math type (FMA or tensor-op/TF32) belongs to the chosen algorithm.
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "core/cuda/cuda_check.h"
#include "core/ops.h"
#include "nn/conv_algorithms.h"
#include "nn/cuda/cuda_layer_backend.h"
#include "nn/cuda/cudnn_handle.h"

namespace ember::nn {

namespace {

using cuda::BlendFactors;
using cuda::ConvolutionDescriptor;
using cuda::cudnn_dtype;
using cuda::cudnn_handle;
using cuda::FilterDescriptor;
using cuda::TensorDescriptor;

// The most workspace an algorithm benchmark may use: enough for cuDNN's FFT and Winograd
// variants on ResNet shapes, small enough to leave room for the model on any GPU.
constexpr size_t kMaxFindWorkspace = size_t(1) << 30;

struct ConvKey {
  int device;
  DType dtype;
  bool tf32;
  bool deterministic;  // Note [deterministic convolutions]
  bool nhwc;           // activations and filters channels_last
  int64_t n, c, h, w, oc, kh, kw, sh, sw, ph, pw;
  auto tie() const {
    return std::tie(device, dtype, tf32, deterministic, nhwc, n, c, h, w, oc, kh, kw, sh, sw, ph, pw);
  }
  bool operator<(const ConvKey& other) const { return tie() < other.tie(); }
};

template <class Algo>
struct Choice {
  bool found = false;
  Algo algo{};
  size_t workspace = 0;
  ConvolutionDescriptor conv;  // math type of the chosen algorithm
};

struct ConvPlan {
  TensorDescriptor x, y, bias;
  FilterDescriptor w;
  Choice<cudnnConvolutionFwdAlgo_t> forward;
  Choice<cudnnConvolutionBwdDataAlgo_t> data;
  Choice<cudnnConvolutionBwdFilterAlgo_t> filter;
};

std::mutex plans_mutex;
std::map<ConvKey, std::unique_ptr<ConvPlan>>& plans() {
  static auto* map = new std::map<ConvKey, std::unique_ptr<ConvPlan>>();  // never destroyed: see cudnn_handle()
  return *map;
}

cudnnMathType_t default_math(DType dtype, bool tf32) {
  // As PyTorch: TF32 off means plain FMA math for float; with it on, cuDNN may choose.
  // bfloat16 runs on tensor cores.
  if (dtype == DType::BFloat16) return CUDNN_TENSOR_OP_MATH;
  return dtype == DType::Float32 && !tf32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

// bfloat16 data is multiplied and accumulated in float32 (cuDNN's only mode for it).
cudnnDataType_t compute_type(DType dtype) { return dtype == DType::BFloat16 ? CUDNN_DATA_FLOAT : cudnn_dtype(dtype); }

ConvolutionDescriptor make_conv_descriptor(const Conv2dGeometry& g, DType dtype, cudnnMathType_t math) {
  ConvolutionDescriptor desc;
  EMBER_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(desc.get(), static_cast<int>(g.pad_h), static_cast<int>(g.pad_w),
                                                    static_cast<int>(g.stride_h), static_cast<int>(g.stride_w), 1, 1,
                                                    CUDNN_CROSS_CORRELATION, compute_type(dtype)));
  EMBER_CUDNN_CHECK(cudnnSetConvolutionMathType(desc.get(), math));
  return desc;
}

ConvKey key_of(const Conv2dGeometry& g, DType dtype, bool tf32) {
  int device = 0;
  EMBER_CUDA_CHECK(cudaGetDevice(&device));
  return {device, dtype, tf32 && dtype == DType::Float32, deterministic_convolutions(), g.channels_last,
          g.batch, g.in_channels, g.in_h, g.in_w, g.out_channels, g.kernel_h, g.kernel_w, g.stride_h, g.stride_w,
          g.pad_h, g.pad_w};
}

// The plan of this geometry (created with its descriptors on first use); the caller holds
// plans_mutex while it uses it.
ConvPlan& plan_for(const ConvKey& key, const Conv2dGeometry& g) {
  std::unique_ptr<ConvPlan>& slot = plans()[key];
  if (!slot) {
    auto plan = std::make_unique<ConvPlan>();
    plan->x = cuda::nchw_descriptor(key.dtype, g.batch, g.in_channels, g.in_h, g.in_w, key.nhwc);
    plan->y = cuda::nchw_descriptor(key.dtype, g.batch, g.out_channels, g.out_h(), g.out_w(), key.nhwc);
    plan->bias = cuda::nchw_descriptor(key.dtype, 1, g.out_channels, 1, 1);
    EMBER_CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan->w.get(), cudnn_dtype(key.dtype), cuda::tensor_format(key.nhwc),
                                                 static_cast<int>(g.out_channels), static_cast<int>(g.in_channels),
                                                 static_cast<int>(g.kernel_h), static_cast<int>(g.kernel_w)));
    slot = std::move(plan);
  }
  return *slot;
}

// Bytes of workspace on the current device from the caching allocator (nullptr for 0).
class Workspace {
 public:
  Workspace(size_t bytes, Device device) : bytes_(bytes) {
    if (bytes > 0) buffer_ = empty({static_cast<int64_t>(bytes)}, TensorOptions(DType::UInt8).device(device));
  }
  void* data() const { return bytes_ > 0 ? buffer_.raw_data() : nullptr; }
  size_t size() const { return bytes_; }

 private:
  size_t bytes_;
  Tensor buffer_;
};

// The workspace for a benchmark: the largest any algorithm reports (capped); if the
// allocator cannot give that much, none (algorithms needing workspace then drop out).
Workspace find_workspace(size_t largest, Device device) {
  const size_t want = std::min(largest, kMaxFindWorkspace);
  try {
    return Workspace(want, device);
  } catch (const Error&) {
    return Workspace(0, device);
  }
}

// What a usable result must satisfy: status, workspace, the TF32 switch and, in
// deterministic mode, cuDNN's determinism flag.
struct PickRules {
  size_t workspace;
  bool forbid_tensor_ops;
  bool deterministic;
};

// The first usable result (results come sorted: by measured time from a benchmark, by
// expected performance from the heuristics).
template <class Perf>
const Perf* pick(const Perf* results, int count, const PickRules& rules, const std::string& what) {
  for (int i = 0; i < count; ++i) {
    const Perf& r = results[i];
    if (r.status != CUDNN_STATUS_SUCCESS || r.memory > rules.workspace) continue;
    if (rules.forbid_tensor_ops && r.mathType != CUDNN_FMA_MATH && r.mathType != CUDNN_DEFAULT_MATH) continue;
    if (rules.deterministic && r.determinism != CUDNN_DETERMINISTIC) continue;
    return &r;
  }
  EMBER_FAIL("cuDNN found no usable {}{} algorithm ({} candidates){}", rules.deterministic ? "deterministic " : "", what,
             count, rules.deterministic ? "; run without --deterministic to let cuDNN use every algorithm" : "");
}

bool forbid_tensor_ops(const ConvKey& key) { return key.dtype == DType::Float32 && !key.tf32; }

// The three directions, as traits: algorithm and result types, where the plan keeps the
// choice, the workspace query and the benchmark. Operands (a, b, c) are (x, w, y) forward,
// (w, dy, dx) backward-data, (x, dy, dw) backward-filter; c is overwritten by the benchmark.
struct Forward {
  using Algo = cudnnConvolutionFwdAlgo_t;
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  static constexpr const char* kName = "convolution forward";
  static Choice<Algo>& choice(ConvPlan& p) { return p.forward; }
  static cudnnStatus_t workspace(cudnnHandle_t h, ConvPlan& p, cudnnConvolutionDescriptor_t c, Algo a, size_t* n) {
    return cudnnGetConvolutionForwardWorkspaceSize(h, p.x.get(), p.w.get(), c, p.y.get(), a, n);
  }
  static cudnnStatus_t find(cudnnHandle_t h, ConvPlan& p, cudnnConvolutionDescriptor_t c, const Tensor& x,
                            const Tensor& w, const Tensor& y, int* count, Perf* results, const Workspace& ws) {
    return cudnnFindConvolutionForwardAlgorithmEx(h, p.x.get(), x.raw_data(), p.w.get(), w.raw_data(), c, p.y.get(),
                                                  y.raw_data(), kCount, count, results, ws.data(), ws.size());
  }
  static cudnnStatus_t heuristics(cudnnHandle_t h, ConvPlan& p, cudnnConvolutionDescriptor_t c, int* count,
                                  Perf* results) {
    return cudnnGetConvolutionForwardAlgorithm_v7(h, p.x.get(), p.w.get(), c, p.y.get(), kCount, count, results);
  }
};

struct BackwardData {
  using Algo = cudnnConvolutionBwdDataAlgo_t;
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  static constexpr const char* kName = "convolution backward-data";
  static Choice<Algo>& choice(ConvPlan& p) { return p.data; }
  static cudnnStatus_t workspace(cudnnHandle_t h, ConvPlan& p, cudnnConvolutionDescriptor_t c, Algo a, size_t* n) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w.get(), p.y.get(), c, p.x.get(), a, n);
  }
  static cudnnStatus_t find(cudnnHandle_t h, ConvPlan& p, cudnnConvolutionDescriptor_t c, const Tensor& w,
                            const Tensor& dy, const Tensor& dx, int* count, Perf* results, const Workspace& ws) {
    return cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w.get(), w.raw_data(), p.y.get(), dy.raw_data(), c,
                                                       p.x.get(), dx.raw_data(), kCount, count, results, ws.data(),
                                                       ws.size());
  }
  static cudnnStatus_t heuristics(cudnnHandle_t h, ConvPlan& p, cudnnConvolutionDescriptor_t c, int* count,
                                  Perf* results) {
    return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w.get(), p.y.get(), c, p.x.get(), kCount, count, results);
  }
};

struct BackwardFilter {
  using Algo = cudnnConvolutionBwdFilterAlgo_t;
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  static constexpr const char* kName = "convolution backward-filter";
  static Choice<Algo>& choice(ConvPlan& p) { return p.filter; }
  static cudnnStatus_t workspace(cudnnHandle_t h, ConvPlan& p, cudnnConvolutionDescriptor_t c, Algo a, size_t* n) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x.get(), p.y.get(), c, p.w.get(), a, n);
  }
  static cudnnStatus_t find(cudnnHandle_t h, ConvPlan& p, cudnnConvolutionDescriptor_t c, const Tensor& x,
                            const Tensor& dy, const Tensor& dw, int* count, Perf* results, const Workspace& ws) {
    return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x.get(), x.raw_data(), p.y.get(), dy.raw_data(), c,
                                                         p.w.get(), dw.raw_data(), kCount, count, results, ws.data(),
                                                         ws.size());
  }
  static cudnnStatus_t heuristics(cudnnHandle_t h, ConvPlan& p, cudnnConvolutionDescriptor_t c, int* count,
                                  Perf* results) {
    return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x.get(), p.y.get(), c, p.w.get(), kCount, count,
                                                         results);
  }
};

// The plan's choice for one direction, made on first use (Note [convolution plans]).
template <class Dir>
const Choice<typename Dir::Algo>& planned(ConvPlan& p, const ConvKey& key, const Conv2dGeometry& g, cudnnHandle_t h,
                                          const Tensor& a, const Tensor& b, const Tensor& c) {
  Choice<typename Dir::Algo>& choice = Dir::choice(p);
  if (choice.found) return choice;
  ConvolutionDescriptor conv = make_conv_descriptor(g, key.dtype, default_math(key.dtype, key.tf32));
  typename Dir::Perf results[Dir::kCount];
  int count = 0;
  PickRules rules{kMaxFindWorkspace, forbid_tensor_ops(key), key.deterministic};
  if (key.deterministic) {
    EMBER_CUDNN_CHECK(Dir::heuristics(h, p, conv.get(), &count, results));
  } else {
    size_t largest = 0;
    for (int algo = 0; algo < Dir::kCount; ++algo) {
      size_t bytes = 0;
      if (Dir::workspace(h, p, conv.get(), static_cast<typename Dir::Algo>(algo), &bytes) == CUDNN_STATUS_SUCCESS)
        largest = std::max(largest, bytes);
    }
    const Workspace ws = find_workspace(largest, c.device());
    EMBER_CUDNN_CHECK(Dir::find(h, p, conv.get(), a, b, c, &count, results, ws));
    rules.workspace = ws.size();
  }
  const std::string what = fmt::format("{} for {} {} input [{}, {}, {}, {}] with a {}x{} kernel", Dir::kName,
                                       dtype_name(key.dtype), key.nhwc ? "NHWC" : "NCHW", g.batch, g.in_channels,
                                       g.in_h, g.in_w, g.kernel_h, g.kernel_w);
  const auto& best = *pick(results, count, rules, what);
  // With TF32 off the algorithm runs under FMA math whatever cuDNN reports for it.
  choice.conv = make_conv_descriptor(g, key.dtype, rules.forbid_tensor_ops ? CUDNN_FMA_MATH : best.mathType);
  choice.algo = best.algo;
  choice.workspace = best.memory;
  choice.found = true;
  return choice;
}

}  // namespace

size_t cudnn_conv_plan_count() {
  std::lock_guard<std::mutex> lock(plans_mutex);
  return plans().size();
}

void CudaLayerBackend::conv2d_forward(const Conv2dGeometry& g, const Tensor& out, const Tensor& in,
                                      const Tensor& weight, const Tensor& bias) {
  const ConvKey key = key_of(g, in.dtype(), conv_tf32_enabled());
  const BlendFactors f(in.dtype());
  cudnnHandle_t handle = cudnn_handle();
  std::lock_guard<std::mutex> lock(plans_mutex);
  ConvPlan& p = plan_for(key, g);
  const auto& choice = planned<Forward>(p, key, g, handle, in, weight, out);
  const Workspace ws(choice.workspace, in.device());
  EMBER_CUDNN_CHECK(cudnnConvolutionForward(handle, f.one(), p.x.get(), in.raw_data(), p.w.get(), weight.raw_data(),
                                            choice.conv.get(), choice.algo, ws.data(), ws.size(), f.zero(), p.y.get(),
                                            out.raw_data()));
  if (bias.defined()) {
    if (key.dtype == DType::BFloat16)  // ember's broadcast add: cuDNN's bias ops are not documented for bfloat16
      out.add_(bias.view({1, g.out_channels, 1, 1}));
    else
      EMBER_CUDNN_CHECK(
          cudnnAddTensor(handle, f.one(), p.bias.get(), bias.raw_data(), f.one(), p.y.get(), out.raw_data()));
  }
}

void CudaLayerBackend::conv2d_backward_input(const Conv2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                                             const Tensor& weight) {
  const ConvKey key = key_of(g, grad_out.dtype(), conv_tf32_enabled());
  const BlendFactors f(grad_out.dtype());
  cudnnHandle_t handle = cudnn_handle();
  std::lock_guard<std::mutex> lock(plans_mutex);
  ConvPlan& p = plan_for(key, g);
  const auto& choice = planned<BackwardData>(p, key, g, handle, weight, grad_out, grad_in);
  const Workspace ws(choice.workspace, grad_out.device());
  EMBER_CUDNN_CHECK(cudnnConvolutionBackwardData(handle, f.one(), p.w.get(), weight.raw_data(), p.y.get(),
                                                 grad_out.raw_data(), choice.conv.get(), choice.algo, ws.data(),
                                                 ws.size(), f.zero(), p.x.get(), grad_in.raw_data()));
}

void CudaLayerBackend::conv2d_backward_weight(const Conv2dGeometry& g, const Tensor& grad_weight,
                                              const Tensor& grad_bias, const Tensor& grad_out, const Tensor& in) {
  const ConvKey key = key_of(g, grad_out.dtype(), conv_tf32_enabled());
  const BlendFactors f(grad_out.dtype());
  cudnnHandle_t handle = cudnn_handle();
  std::lock_guard<std::mutex> lock(plans_mutex);
  ConvPlan& p = plan_for(key, g);
  const auto& choice = planned<BackwardFilter>(p, key, g, handle, in, grad_out, grad_weight);
  const Workspace ws(choice.workspace, grad_out.device());
  EMBER_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle, f.one(), p.x.get(), in.raw_data(), p.y.get(),
                                                   grad_out.raw_data(), choice.conv.get(), choice.algo, ws.data(),
                                                   ws.size(), f.zero(), p.w.get(), grad_weight.raw_data()));
  if (grad_bias.defined()) {
    if (key.dtype == DType::BFloat16)  // as in the forward: ember's sum (float accumulation)
      grad_bias.copy_(sum(grad_out, {0, 2, 3}));
    else
      EMBER_CUDNN_CHECK(cudnnConvolutionBackwardBias(handle, f.one(), p.y.get(), grad_out.raw_data(), f.zero(),
                                                     p.bias.get(), grad_bias.raw_data()));
  }
}

}  // namespace ember::nn
