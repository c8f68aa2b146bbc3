// The CUDA side of AsyncReadback: a pinned host buffer, an async copy on ember's stream and
// an event to wait on.
#include <cuda_runtime.h>

#include <cstring>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/readback_impl.h"

namespace ember {

namespace {

struct CudaReadback final : AsyncReadback::Impl {
  CudaReadback() { EMBER_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming)); }
  ~CudaReadback() override {
    if (host) EMBER_CUDA_LOG_ERROR(cudaFreeHost(host));
    if (event) EMBER_CUDA_LOG_ERROR(cudaEventDestroy(event));
  }
  CudaReadback(const CudaReadback&) = delete;
  CudaReadback& operator=(const CudaReadback&) = delete;

  void post(const Tensor& stacked) override {
    const size_t n = static_cast<size_t>(stacked.numel());
    if (n > capacity) {
      if (host) EMBER_CUDA_CHECK(cudaFreeHost(host));
      host = nullptr;
      EMBER_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&host), n * sizeof(double)));
      capacity = n;
    }
    count = n;
    source = stacked;  // keeps the device buffer alive until the copy is done
    EMBER_CUDA_CHECK(cudaMemcpyAsync(host, stacked.raw_data(), n * sizeof(double), cudaMemcpyDeviceToHost,
                                     cuda::stream()));
    EMBER_CUDA_CHECK(cudaEventRecord(event, cuda::stream()));
  }

  std::vector<double> take() override {
    EMBER_CUDA_CHECK(cudaEventSynchronize(event));
    source = Tensor();
    return std::vector<double>(host, host + count);
  }

  cudaEvent_t event = nullptr;
  double* host = nullptr;
  size_t capacity = 0, count = 0;
  Tensor source;
};

}  // namespace

namespace detail {
std::unique_ptr<AsyncReadback::Impl> make_cuda_readback() { return std::make_unique<CudaReadback>(); }
}  // namespace detail

}  // namespace ember
