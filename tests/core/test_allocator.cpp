// The CPU allocator (alignment, statistics, caching, poisoning) and the thread count.
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include <gtest/gtest.h>

#include "core/ops.h"
#include "core/parallel.h"
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

}  // namespace
}  // namespace ember

namespace ember {
namespace {

TEST(CpuAllocator, FreedBlocksAreReusedWithoutSystemAllocations) {
  Allocator& a = cpu_allocator();
  { DataPtr warm = a.allocate(123457); }
  const AllocatorStats before = a.stats();
  for (int i = 0; i < 20; ++i) {
    DataPtr p = a.allocate(123457);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p.get()) % kCpuAlignment, 0u);
  }
  const AllocatorStats after = a.stats();
  EXPECT_EQ(after.allocations, before.allocations + 20);
  if (std::getenv("EMBER_CPU_CACHE_MB") == nullptr && !EMBER_TEST_SANITIZE_BUILD) {
    EXPECT_EQ(after.backend_allocations, before.backend_allocations) << "a cached block should have been reused";
  }
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


namespace ember {
namespace {

TEST(Parallel, ThreadCountIsSettableAndResultsDoNotDependOnIt) {
  const int before = num_threads();
  EXPECT_GE(before, 1);
  Generator g(3);
  Tensor x = rand({300001}, DType::Float64, &g);
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  const double one = sum(x * x).item();
  const auto m1 = matmul(x.slice(0, 0, 300 * 1000).view({300, 1000}), x.slice(0, 0, 1000 * 7).view({1000, 7}));
  set_num_threads(2);
  EXPECT_EQ(num_threads(), 2);
  EXPECT_EQ(sum(x * x).item(), one);  // each output element is reduced by one thread
  EXPECT_TRUE(testing::all_close(
      matmul(x.slice(0, 0, 300 * 1000).view({300, 1000}), x.slice(0, 0, 1000 * 7).view({1000, 7})), m1, 1e-12, 1e-12));
  set_num_threads(0);
  EXPECT_EQ(num_threads(), before);
}

}  // namespace
}  // namespace ember
