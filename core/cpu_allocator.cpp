#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/allocator.h"
#include "core/error.h"

namespace ember {

void AllocationCounter::on_alloc(size_t nbytes) {
  int64_t now = current_ += static_cast<int64_t>(nbytes);
  allocations_++;
  int64_t peak = peak_.load();
  while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
  }
}

void AllocationCounter::on_free(size_t nbytes) { current_ -= static_cast<int64_t>(nbytes); }

namespace {
std::atomic<bool> poisoning{false};
}  // namespace

void set_allocation_poisoning(bool enabled) { poisoning = enabled; }
bool allocation_poisoning() { return poisoning; }

AllocatorStats AllocationCounter::stats() const {
  return {current_.load(), peak_.load(), allocations_.load(), backend_allocations_.load()};
}

namespace {

// Note [CPU caching allocator]
// A training step allocates the same sizes every step (activations, gradients, workspaces).
// Freed blocks go to a free list per size class and are handed out again, so after the first
// step nothing reaches malloc. Size classes: multiples of 64 bytes up to 4 KiB, then four
// classes per power of two (at most 25% waste). The cache holds at most kMaxCachedBytes
// (EMBER_CPU_CACHE_MB overrides); beyond that, freed blocks go back to the system. Sanitizer
// builds do not cache, so that AddressSanitizer sees every use after free.
class CpuAllocator final : public Allocator {
 public:
  CpuAllocator() {
    if (const char* mb = std::getenv("EMBER_CPU_CACHE_MB")) max_cached_ = std::strtoll(mb, nullptr, 10) << 20;
    if (EMBER_SANITIZE_BUILD) max_cached_ = 0;
  }

  DataPtr allocate(size_t nbytes) override {
    const size_t size = size_class(nbytes);
    void* p = take_cached(size);
    if (p == nullptr) {
      p = std::aligned_alloc(kCpuAlignment, size);
      EMBER_CHECK(p != nullptr, "out of host memory allocating {} bytes", nbytes);
      counter_.on_backend_alloc();
    }
    if (allocation_poisoning()) std::memset(p, 0xFF, size);
    counter_.on_alloc(nbytes);
    return DataPtr(p, [this, nbytes, size](void* ptr) {
      counter_.on_free(nbytes);
      give_back(ptr, size);
    });
  }
  Device device() const override { return Device::cpu(); }
  AllocatorStats stats() const override { return counter_.stats(); }
  void reset_peak() override { counter_.reset_peak(); }

  void release_cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_) {
      for (void* b : blocks) std::free(b);
      blocks.clear();
    }
    cached_bytes_ = 0;
  }

  static size_t size_class(size_t nbytes) {
    if (nbytes <= 4096) return std::max<size_t>(kCpuAlignment, (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment);
    size_t power = 4096;
    while (power * 2 < nbytes) power *= 2;  // power < nbytes <= 2 * power
    const size_t step = power / 4;
    return (nbytes + step - 1) / step * step;
  }

 private:
  void* take_cached(size_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(size);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_bytes_ -= static_cast<int64_t>(size);
    return p;
  }

  void give_back(void* ptr, size_t size) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_bytes_ + static_cast<int64_t>(size) <= max_cached_) {
        free_[size].push_back(ptr);
        cached_bytes_ += static_cast<int64_t>(size);
        return;
      }
    }
    std::free(ptr);
  }

  static constexpr int64_t kMaxCachedBytes = int64_t(4) << 30;
  int64_t max_cached_ = kMaxCachedBytes;
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  int64_t cached_bytes_ = 0;
  AllocationCounter counter_;
};

CpuAllocator& cpu_caching_allocator() {
  static CpuAllocator* instance = new CpuAllocator();  // never destroyed: outlives every tensor
  return *instance;
}

}  // namespace

void release_cached_cpu_memory() { cpu_caching_allocator().release_cached(); }

Allocator& cpu_allocator() { return cpu_caching_allocator(); }

Allocator& allocator_for(Device device) {
  if (device.is_cpu()) return cpu_allocator();
  return cuda_allocator(device.index);
}

}  // namespace ember
