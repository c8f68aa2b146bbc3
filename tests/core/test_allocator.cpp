// The CPU allocator: alignment, statistics, caching, poisoning.
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include <gtest/gtest.h>

#include "core/ops.h"
#include "tests/support/compare.h"

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

TEST(CpuAllocator, RepeatedAllocationsAreAlignedAndCounted) {
  Allocator& a = cpu_allocator();
  const AllocatorStats before = a.stats();
  for (int i = 0; i < 20; ++i) {
    DataPtr p = a.allocate(123457);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p.get()) % kCpuAlignment, 0u);
  }
  EXPECT_EQ(a.stats().allocations, before.allocations + 20);
  EXPECT_EQ(a.stats().current_bytes, before.current_bytes);
}

TEST(CpuAllocator, FreedBlocksAreReusedWithoutSystemAllocations) {
  if (EMBER_TEST_SANITIZE_BUILD)
    GTEST_SKIP() << "sanitizer builds do not cache freed blocks, so that AddressSanitizer sees every use after "
                    "free (Note [CPU caching allocator])";
  if (std::getenv("EMBER_CPU_CACHE_MB") != nullptr)
    GTEST_SKIP() << "EMBER_CPU_CACHE_MB is set: the cache size is not the default this test relies on";
  Allocator& a = cpu_allocator();
  { DataPtr warm = a.allocate(123457); }
  const AllocatorStats before = a.stats();
  for (int i = 0; i < 20; ++i) DataPtr p = a.allocate(123457);
  EXPECT_EQ(a.stats().backend_allocations, before.backend_allocations) << "a cached block should have been reused";
  release_cached_cpu_memory();
}

TEST(CpuAllocator, ReusedBlocksArePoisonedToo) {
  { Tensor t = ones({1000}); }  // leaves a block of this size class in the cache
  set_allocation_poisoning(true);
  Tensor u = empty({1000});
  set_allocation_poisoning(false);
  for (float v : u.to_vector<float>()) ASSERT_TRUE(std::isnan(v));
}

}  // namespace
}  // namespace ember

