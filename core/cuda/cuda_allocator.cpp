// The CUDA caching allocator: CUDA's stream-ordered memory pool (cudaMallocAsync) with the
// release threshold set to "never", so freed blocks stay in the pool and a training loop
// reaches a steady state with no driver allocations. Allocation and free are ordered on
// ember's stream, the stream all ops run on, so a block is reused only after the work that
// last touched it. Counts current and peak bytes handed out.
#include <cstdint>
#include <mutex>

#include "core/allocator.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"

namespace ember {

namespace {

class CudaPoolAllocator final : public Allocator {
 public:
  explicit CudaPoolAllocator(int device) : device_(device) {
    cuda::set_device(device);
    EMBER_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool_, device));
    uint64_t threshold = UINT64_MAX;
    EMBER_CUDA_CHECK(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &threshold));
  }

  DataPtr allocate(size_t nbytes) override {
    void* ptr = nullptr;
    // 256-byte granules: every tensor start is aligned for float4 and cuDNN.
    const size_t rounded = std::max<size_t>(256, (nbytes + 255) / 256 * 256);
    const cudaError_t err = cudaMallocAsync(&ptr, rounded, cuda::stream());
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the sticky error
      const AllocatorStats s = counter_.stats();
      EMBER_FAIL("CUDA out of memory allocating {} bytes on cuda:{} ({} bytes in use by ember, peak {})", nbytes,
                 device_, s.current_bytes, s.peak_bytes);
    }
    EMBER_CUDA_CHECK(err);
    if (allocation_poisoning()) EMBER_CUDA_CHECK(cudaMemsetAsync(ptr, 0xFF, rounded, cuda::stream()));
    counter_.on_alloc(nbytes);
    track_backend_growth();
    return DataPtr(ptr, [this, nbytes](void* p) {
      EMBER_CUDA_LOG_ERROR(cudaFreeAsync(p, cuda::stream()));
      counter_.on_free(nbytes);
    });
  }

  Device device() const override { return Device::cuda(device_); }
  AllocatorStats stats() const override { return counter_.stats(); }
  void reset_peak() override { counter_.reset_peak(); }

 private:
  // The pool's reserved size grows only when it had to ask the driver: count those events.
  void track_backend_growth() {
    uint64_t reserved = 0;
    if (cudaMemPoolGetAttribute(pool_, cudaMemPoolAttrReservedMemCurrent, &reserved) == cudaSuccess &&
        reserved > last_reserved_) {
      last_reserved_ = reserved;
      counter_.on_backend_alloc();
    }
  }

  int device_;
  cudaMemPool_t pool_ = nullptr;
  uint64_t last_reserved_ = 0;
  AllocationCounter counter_;
};

}  // namespace

Allocator& cuda_allocator(int device_index) {
  static std::mutex mutex;
  static CudaPoolAllocator* allocators[16] = {};
  EMBER_CHECK(device_index >= 0 && device_index < 16, "CUDA device index {} out of range", device_index);
  std::lock_guard<std::mutex> lock(mutex);
  if (!allocators[device_index]) allocators[device_index] = new CudaPoolAllocator(device_index);  // never freed
  return *allocators[device_index];
}

}  // namespace ember
