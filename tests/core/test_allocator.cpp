// The CPU allocator: alignment, statistics, poisoning.
#include <cstdint>
#include <cmath>

#include <gtest/gtest.h>

#include "core/ops.h"

namespace ember {
namespace {

TEST(CpuAllocator, AlignsTo64BytesAndCountsBytes) {
  Allocator& a = cpu_allocator();
  const AllocatorStats before = a.stats();
  {
    DataPtr p = a.allocate(1000);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p.get()) % kCpuAlignment, 0u);
    DataPtr q = a.allocate(3);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(q.get()) % kCpuAlignment, 0u);
    EXPECT_EQ(a.stats().current_bytes, before.current_bytes + 1003);
    EXPECT_GE(a.stats().peak_bytes, before.current_bytes + 1003);
    EXPECT_EQ(a.stats().allocations, before.allocations + 2);
  }
  EXPECT_EQ(a.stats().current_bytes, before.current_bytes);
  a.reset_peak();
  EXPECT_EQ(a.stats().peak_bytes, a.stats().current_bytes);
  DataPtr empty_alloc = a.allocate(0);
  EXPECT_NE(empty_alloc.get(), nullptr);
}

TEST(CpuAllocator, TensorsReturnTheirBytes) {
  const int64_t before = cpu_allocator().stats().current_bytes;
  {
    Tensor t = zeros({1000});
    Tensor v = t.view({10, 100});  // shares the storage: no new bytes
    EXPECT_EQ(cpu_allocator().stats().current_bytes, before + 4000);
  }
  EXPECT_EQ(cpu_allocator().stats().current_bytes, before);
}

TEST(CpuAllocator, PoisoningFillsNewMemoryWithNaN) {
  set_allocation_poisoning(true);
  Tensor t = empty({5});
  set_allocation_poisoning(false);
  for (float v : t.to_vector<float>()) EXPECT_TRUE(std::isnan(v));
}

}  // namespace
}  // namespace ember
