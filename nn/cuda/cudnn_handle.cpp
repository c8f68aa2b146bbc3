#include "nn/cuda/cudnn_handle.h"

#include <cuda_runtime.h>

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"

namespace ember::nn::cuda {

void log_cudnn_error(cudnnStatus_t status, const char* expr, const char* file, int line) {
  if (status != CUDNN_STATUS_SUCCESS)
    std::fprintf(stderr, "ember: cuDNN error %s in %s at %s:%d (ignored in a destructor)\n",
                 cudnnGetErrorString(status), expr, file, line);
}

cudnnDataType_t cudnn_dtype(DType dtype) {
  switch (dtype) {
    case DType::Float32: return CUDNN_DATA_FLOAT;
    case DType::Float64: return CUDNN_DATA_DOUBLE;
    case DType::BFloat16: return CUDNN_DATA_BFLOAT16;
    default: EMBER_FAIL("cuDNN layers need float32, float64 or bfloat16 tensors, got {}", dtype_name(dtype));
  }
}

cudnnHandle_t cudnn_handle() {
  // One handle per device, created on first use and kept for the life of the process (like
  // ember's stream and cuBLAS handle: tensors freed during static destruction may still run
  // layer code paths, and the driver reclaims everything at exit).
  static std::mutex mutex;
  static auto* handles = new std::map<int, HandleOwner>();
  int device = 0;
  EMBER_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mutex);
  auto it = handles->find(device);
  if (it == handles->end()) {
    HandleOwner handle;
    EMBER_CUDNN_CHECK(cudnnSetStream(handle.get(), ember::cuda::stream()));
    it = handles->emplace(device, std::move(handle)).first;
  }
  return it->second.get();
}

TensorDescriptor nchw_descriptor(DType dtype, int64_t n, int64_t c, int64_t h, int64_t w, bool nhwc) {
  EMBER_CHECK(n <= INT32_MAX && c <= INT32_MAX && h <= INT32_MAX && w <= INT32_MAX && n * c * h * w <= INT32_MAX,
              "tensor [{}, {}, {}, {}] is too large for cuDNN's 32-bit descriptors", n, c, h, w);
  TensorDescriptor desc;
  EMBER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc.get(), tensor_format(nhwc), cudnn_dtype(dtype), static_cast<int>(n),
                                               static_cast<int>(c), static_cast<int>(h), static_cast<int>(w)));
  return desc;
}

}  // namespace ember::nn::cuda
