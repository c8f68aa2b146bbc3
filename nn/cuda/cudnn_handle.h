// cuDNN plumbing for ember's CUDA layers: the check macro, the per-device handle bound to
// ember's stream, and move-only owners of cuDNN descriptors (house style: copy deleted, a
// move nulls the source, destructors log instead of throwing).
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <utility>

#include "core/dtype.h"
#include "core/error.h"

namespace ember::nn::cuda {

// Logs (never throws) a failure of a call made in a destructor.
void log_cudnn_error(cudnnStatus_t status, const char* expr, const char* file, int line);

}  // namespace ember::nn::cuda

// EMBER_CUDNN_CHECK(expr): throws ember::Error naming the expression, cuDNN's message (and
// its last detailed error string) and file:line.
#define EMBER_CUDNN_CHECK(expr)                                                                        \
  do {                                                                                                 \
    const cudnnStatus_t ember_cudnn_st_ = (expr);                                                      \
    if (ember_cudnn_st_ != CUDNN_STATUS_SUCCESS) {                                                     \
      char ember_cudnn_detail_[512] = {0};                                                             \
      cudnnGetLastErrorString(ember_cudnn_detail_, sizeof(ember_cudnn_detail_));                       \
      ::ember::throw_error(__FILE__, __LINE__,                                                         \
                           fmt::format("cuDNN error {} in {}{}{}", cudnnGetErrorString(ember_cudnn_st_), #expr, \
                                       ember_cudnn_detail_[0] ? ": " : "", ember_cudnn_detail_));      \
    }                                                                                                  \
  } while (0)

#define EMBER_CUDNN_LOG_ERROR(expr) ::ember::nn::cuda::log_cudnn_error((expr), #expr, __FILE__, __LINE__)

namespace ember::nn::cuda {

// cuDNN's data type for an ember dtype (float32, float64, bfloat16; anything else throws).
cudnnDataType_t cudnn_dtype(DType dtype);

// The handle of the current device, created on first use and bound to ember's stream
// (core/cuda/cuda_context.h), so cuDNN work is ordered with every other ember kernel.
cudnnHandle_t cudnn_handle();

// One owner class per descriptor kind, all alike.
template <class Handle, cudnnStatus_t (*Create)(Handle*), cudnnStatus_t (*Destroy)(Handle)>
class CudnnResource {
 public:
  CudnnResource() { EMBER_CUDNN_CHECK(Create(&handle_)); }
  ~CudnnResource() {
    if (handle_ != nullptr) EMBER_CUDNN_LOG_ERROR(Destroy(handle_));
  }
  CudnnResource(const CudnnResource&) = delete;
  CudnnResource& operator=(const CudnnResource&) = delete;
  CudnnResource(CudnnResource&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  CudnnResource& operator=(CudnnResource&& other) noexcept {
    if (this != &other) {
      if (handle_ != nullptr) EMBER_CUDNN_LOG_ERROR(Destroy(handle_));
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Handle get() const { return handle_; }

 private:
  Handle handle_ = nullptr;
};

using TensorDescriptor =
    CudnnResource<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDescriptor =
    CudnnResource<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvolutionDescriptor =
    CudnnResource<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;
using HandleOwner = CudnnResource<cudnnHandle_t, cudnnCreate, cudnnDestroy>;

// NCHW, or NHWC for a channels_last tensor (Note [channels_last] in core/ops/view_ops.cpp).
inline cudnnTensorFormat_t tensor_format(bool nhwc) { return nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW; }
// A descriptor of a dense [n, c, h, w] tensor stored NCHW, or NHWC when `nhwc`.
TensorDescriptor nchw_descriptor(DType dtype, int64_t n, int64_t c, int64_t h, int64_t w, bool nhwc = false);

// alpha = 1 / beta = 0 in the type cuDNN wants for `dtype` (double for double data, float
// otherwise).
struct BlendFactors {
  explicit BlendFactors(DType dtype) : is_double(dtype == DType::Float64) {}
  const void* one() const { return is_double ? static_cast<const void*>(&one_d) : &one_f; }
  const void* zero() const { return is_double ? static_cast<const void*>(&zero_d) : &zero_f; }
  bool is_double;
  float one_f = 1.0f, zero_f = 0.0f;
  double one_d = 1.0, zero_d = 0.0;
};

}  // namespace ember::nn::cuda
