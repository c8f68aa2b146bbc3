// Allocators: where Storage bytes come from.
//
// An allocator hands out owning pointers (DataPtr) whose deleter returns the bytes to it,
// and keeps statistics: bytes in use now and the peak since the last reset_peak().
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "core/device.h"

namespace ember {

using DataPtr = std::unique_ptr<void, std::function<void(void*)>>;

struct AllocatorStats {
  int64_t current_bytes = 0;   // bytes handed out and not yet returned
  int64_t peak_bytes = 0;      // highest current_bytes since reset_peak()
  int64_t allocations = 0;     // calls to allocate() since start
  int64_t backend_allocations = 0;  // times the allocator asked the system (malloc, cudaMalloc*) for memory
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Never returns null for nbytes > 0; throws ember::Error on exhaustion.
  virtual DataPtr allocate(size_t nbytes) = 0;
  virtual Device device() const = 0;
  virtual AllocatorStats stats() const = 0;
  virtual void reset_peak() = 0;
};

// Byte counters shared by the allocators.
class AllocationCounter {
 public:
  void on_alloc(size_t nbytes);
  void on_free(size_t nbytes);
  void on_backend_alloc() { backend_allocations_++; }
  AllocatorStats stats() const;
  void reset_peak() { peak_ = current_.load(); }

 private:
  std::atomic<int64_t> current_{0}, peak_{0}, allocations_{0}, backend_allocations_{0};
};

// 64-byte aligned host memory (a cache line, and enough for AVX-512 loads), caching freed
// blocks for reuse (Note [CPU caching allocator] in cpu_allocator.cpp).
Allocator& cpu_allocator();
// Returns the CPU allocator's cached free blocks to the system.
void release_cached_cpu_memory();
// The CUDA caching allocator of `device` (throws in a CPU-only build).
Allocator& cuda_allocator(int device_index = 0);
Allocator& allocator_for(Device device);

constexpr size_t kCpuAlignment = 64;

// Test aid: while on, every new allocation (CPU and CUDA) is filled with 0xFF bytes, which
// read as NaN in float and double, so an element an op forgets to write shows up as NaN.
void set_allocation_poisoning(bool enabled);
bool allocation_poisoning();

}  // namespace ember
