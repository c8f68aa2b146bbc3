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
#include <string>
#include <utility>

#include "core/allocator.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/out_of_memory.h"

namespace ember {

namespace {

// What was asked and what the device has left (0 and 0 when CUDA cannot say).
OutOfMemoryReport device_memory_report(int device, size_t requested) {
  OutOfMemoryReport r;
  r.device = device;
  r.requested = requested;
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
    r.device_free = free_bytes;
    r.device_total = total_bytes;
  } else {
    cudaGetLastError();
  }
  return r;
}

class CudaPoolAllocator final : public Allocator {
 public:
  // Device 0 only (Note [one GPU per process] in core/device.cpp): the current device of
  // every thread that uses ember.
  explicit CudaPoolAllocator(int device) : device_(device) {
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
      cudaGetLastError();  // not sticky, but left in the last-error slot for the next check to find
      fail_out_of_memory(nbytes);
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
  // A failed query only loses a count; it is cleared so that the next check does not report
  // it as some kernel's error.
  void track_backend_growth() {
    const uint64_t reserved = reserved_bytes();
    uint64_t last = last_reserved_.load(std::memory_order_relaxed);
    while (reserved > last && !last_reserved_.compare_exchange_weak(last, reserved, std::memory_order_relaxed)) {
    }
    if (reserved > last) counter_.on_backend_alloc();
  }

  uint64_t reserved_bytes() const {
    uint64_t reserved = 0;
    if (cudaMemPoolGetAttribute(pool_, cudaMemPoolAttrReservedMemCurrent, &reserved) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return reserved;
  }

  // Note [CUDA out of memory]: one message with what was asked, what ember holds and what the
  // device has left, so that a user can tell a too-large batch from a leak or another process.
  // The text is core/out_of_memory.h's (tested on the CPU).
  [[noreturn]] void fail_out_of_memory(size_t nbytes) const {
    const AllocatorStats s = counter_.stats();
    OutOfMemoryReport r = device_memory_report(device_, nbytes);
    r.in_use = static_cast<uint64_t>(s.current_bytes);
    r.peak = static_cast<uint64_t>(s.peak_bytes);
    r.pool_reserved = reserved_bytes();
    EMBER_FAIL("{}", out_of_memory_message(r));
  }

  int device_;
  cudaMemPool_t pool_ = nullptr;
  std::atomic<uint64_t> last_reserved_{0};  // allocations come from the loader's thread too
  AllocationCounter counter_;
  mutable std::mutex mutex_;
  std::atomic<bool> capturing_{false};
  std::shared_ptr<GraphMemory> graph_memory_;  // set while a graph is captured
};

CudaPoolAllocator& pool_allocator(int device) { return static_cast<CudaPoolAllocator&>(cuda_allocator(device)); }

}  // namespace

Allocator& cuda_allocator(int device_index) {
  if (device_index != 0) check_device_usable(Device::cuda(device_index));  // throws: cuda:0 only
  static CudaPoolAllocator* allocator = [] {
    check_device_usable(Device::cuda(0));
    return new CudaPoolAllocator(0);  // never freed: tensors outlive static destruction
  }();
  return *allocator;
}

namespace cuda {

std::shared_ptr<GraphMemory> make_graph_memory() {
  return std::make_shared<GraphMemory>(
      [](size_t nbytes) {
        void* ptr = nullptr;
        const cudaError_t err = cudaMalloc(&ptr, nbytes);
        if (err == cudaErrorMemoryAllocation) {
          cudaGetLastError();
          EMBER_FAIL("{}", graph_out_of_memory_message(device_memory_report(0, nbytes)));
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
