// The CUDA caching allocator: CUDA's stream-ordered memory pool (cudaMallocAsync) with the
// release threshold set to "never", so freed blocks stay in the pool and a training loop
// reaches a steady state with no driver allocations. Allocation and free are ordered on
// ember's stream, the stream all ops run on, so a block is reused only after the work that
// last touched it. Counts current and peak bytes handed out. While a CUDA graph is being
// captured, the graph's memory takes over (Note [graph memory] in core/graph_memory.h).
#include "core/cuda/cuda_allocator.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <utility>

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
    if (std::shared_ptr<GraphMemory> graph = graph_memory()) return allocate_for_graph(std::move(graph), nbytes, rounded);
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
      if (std::shared_ptr<GraphMemory> graph = graph_memory())  // a replay may still read it
        graph->keep_until_destroyed([p] { EMBER_CUDA_LOG_ERROR(cudaFreeAsync(p, cuda::stream())); });
      else
        EMBER_CUDA_LOG_ERROR(cudaFreeAsync(p, cuda::stream()));
      counter_.on_free(nbytes);
    });
  }

  void set_graph_memory(std::shared_ptr<GraphMemory> memory) {
    std::lock_guard<std::mutex> lock(mutex_);
    capturing_ = memory != nullptr;
    graph_memory_ = std::move(memory);
  }

  Device device() const override { return Device::cuda(device_); }
  AllocatorStats stats() const override { return counter_.stats(); }
  void reset_peak() override { counter_.reset_peak(); }

 private:
  // Null unless a graph is being captured; outside a capture (every eager step) one atomic
  // load, no lock.
  std::shared_ptr<GraphMemory> graph_memory() const {
    if (!capturing_.load(std::memory_order_acquire)) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    return graph_memory_;
  }

  DataPtr allocate_for_graph(std::shared_ptr<GraphMemory> graph, size_t nbytes, size_t rounded) {
    void* ptr = graph->allocate(rounded);
    if (allocation_poisoning()) EMBER_CUDA_CHECK(cudaMemsetAsync(ptr, 0xFF, rounded, cuda::stream()));
    counter_.on_alloc(nbytes);
    return DataPtr(ptr, [this, graph, nbytes](void* p) {
      graph->release(p);
      counter_.on_free(nbytes);
    });
  }

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
  mutable std::mutex mutex_;
  std::atomic<bool> capturing_{false};
  std::shared_ptr<GraphMemory> graph_memory_;  // set while a graph is captured
};

CudaPoolAllocator& pool_allocator(int device) { return static_cast<CudaPoolAllocator&>(cuda_allocator(device)); }

}  // namespace

Allocator& cuda_allocator(int device_index) {
  static std::mutex mutex;
  static CudaPoolAllocator* allocators[16] = {};
  EMBER_CHECK(device_index >= 0 && device_index < 16, "CUDA device index {} out of range", device_index);
  std::lock_guard<std::mutex> lock(mutex);
  if (!allocators[device_index]) allocators[device_index] = new CudaPoolAllocator(device_index);  // never freed
  return *allocators[device_index];
}

namespace cuda {

std::shared_ptr<GraphMemory> make_graph_memory() {
  return std::make_shared<GraphMemory>(
      [](size_t nbytes) {
        void* ptr = nullptr;
        const cudaError_t err = cudaMalloc(&ptr, nbytes);
        if (err == cudaErrorMemoryAllocation) {
          cudaGetLastError();
          EMBER_FAIL("CUDA out of memory allocating {} bytes for a CUDA graph's memory pool", nbytes);
        }
        EMBER_CUDA_CHECK(err);
        return ptr;
      },
      [](void* ptr) { EMBER_CUDA_LOG_ERROR(cudaFree(ptr)); });
}

void begin_graph_memory(int device, std::shared_ptr<GraphMemory> memory) {
  pool_allocator(device).set_graph_memory(std::move(memory));
}

void end_graph_memory(int device) { pool_allocator(device).set_graph_memory(nullptr); }

}  // namespace cuda

}  // namespace ember
