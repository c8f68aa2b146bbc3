// CUDA device queries and cross-device byte copies (core/cuda_hooks.h).
#include <cuda_runtime.h>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda_hooks.h"

namespace ember {

bool cuda_built() { return true; }

namespace detail {

int cuda_device_count_impl() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // no driver or no device: not an error for a query
      return 0;
    }
    return n;
  }();
  return count;
}

std::string cuda_device_name_impl(int index) {
  cudaDeviceProp prop{};
  EMBER_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  return prop.name;
}

void cuda_copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) {
  check_device_usable(dst_device.is_cuda() ? dst_device : src_device);
  // cudaMemcpyDefault infers the direction from unified addressing. Queued on ember's stream
  // after the work that produced src, then waited for, so the host sees finished bytes and
  // may reuse its buffer at once.
  EMBER_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDefault, cuda::stream()));
  EMBER_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
}

}  // namespace detail
}  // namespace ember
