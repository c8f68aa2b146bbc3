// CUDA device queries and cross-device byte copies (core/cuda_hooks.h).
#include <cuda_runtime.h>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda_hooks.h"

namespace ember {

bool cuda_built() { return true; }

namespace detail {

namespace {

std::string describe(cudaError_t err) { return fmt::format("{}: {}", cudaGetErrorName(err), cudaGetErrorString(err)); }

// Counts the devices, then makes device 0's context: a busy or prohibited device (compute
// mode) and a driver that cannot run this runtime only say so there. Errors are cleared from
// CUDA's last-error slot (they are reported through CudaProbe, not by the next check).
CudaProbe probe() {
  CudaProbe p;
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err == cudaSuccess && n == 0) err = cudaErrorNoDevice;
  if (err == cudaSuccess) err = cudaSetDevice(0);
  if (err == cudaSuccess) err = cudaFree(nullptr);  // creates the context now
  if (err != cudaSuccess) {
    cudaGetLastError();
    p.no_device = err == cudaErrorNoDevice;
    p.error = describe(err);
    return p;
  }
  p.count = n;
  return p;
}

}  // namespace

const CudaProbe& cuda_probe_impl() {
  static const CudaProbe result = probe();
  return result;
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
