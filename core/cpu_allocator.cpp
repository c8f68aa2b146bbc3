#include <cstdlib>
#include <cstring>

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

class CpuAllocator final : public Allocator {
 public:
  DataPtr allocate(size_t nbytes) override {
    // aligned_alloc needs a size that is a multiple of the alignment; 0 bytes still gets a
    // real (unique) pointer so that empty tensors have valid storage.
    size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    if (rounded == 0) rounded = kCpuAlignment;
    void* p = std::aligned_alloc(kCpuAlignment, rounded);
    EMBER_CHECK(p != nullptr, "out of host memory allocating {} bytes", nbytes);
    if (allocation_poisoning()) std::memset(p, 0xFF, rounded);
    counter_.on_alloc(nbytes);
    counter_.on_backend_alloc();
    return DataPtr(p, [this, nbytes](void* ptr) {
      std::free(ptr);
      counter_.on_free(nbytes);
    });
  }
  Device device() const override { return Device::cpu(); }
  AllocatorStats stats() const override { return counter_.stats(); }
  void reset_peak() override { counter_.reset_peak(); }

 private:
  AllocationCounter counter_;
};

}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator* instance = new CpuAllocator();  // never destroyed: outlives every tensor
  return *instance;
}

Allocator& allocator_for(Device device) {
  if (device.is_cpu()) return cpu_allocator();
  return cuda_allocator(device.index);
}

}  // namespace ember
