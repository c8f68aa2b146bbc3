// The CUDA caching allocator (core/cuda/cuda_allocator.cpp): freed blocks are reused (the
// pool asks the driver at most once for a repeated pattern), bytes in use and the peak are
// counted, and running out of memory is one clear error that names the bytes requested, in
// use and free - after which the allocator and the stream still work.
#include <string>

#include <gtest/gtest.h>

#include "core/backend.h"
#include "tests/core/cuda_vs_cpu.h"

namespace ember {
namespace {

using CudaAllocator = testing::GpuTest;

TEST_F(CudaAllocator, ReusesMemoryAndCountsThePeak) {
  Allocator& a = cuda_allocator(0);
  backend_for(Device::cuda()).synchronize();
  const AllocatorStats before = a.stats();
  for (int i = 0; i < 50; ++i) {
    Tensor t = empty({1 << 20}, Device::cuda());  // 4 MiB, freed each iteration
    t.fill_(1.0);
  }
  const AllocatorStats after = a.stats();
  EXPECT_EQ(after.current_bytes, before.current_bytes);
  EXPECT_GE(after.peak_bytes, before.current_bytes + (4 << 20));
  EXPECT_EQ(after.allocations, before.allocations + 50);
  // The pool grows at most once for this pattern: the freed block is reused.
  EXPECT_LE(after.backend_allocations - before.backend_allocations, 1);
}

TEST_F(CudaAllocator, OutOfMemoryIsOneClearErrorAndLeavesTheDeviceUsable) {
  const int64_t petabyte = int64_t(1) << 50;
  try {
    Tensor huge = empty({petabyte}, TensorOptions(DType::UInt8).device(Device::cuda()));
    FAIL() << "a petabyte was allocated";
  } catch (const Error& e) {
    const std::string m = e.message();
    EXPECT_NE(m.find("CUDA out of memory on cuda:0"), std::string::npos) << m;
    EXPECT_NE(m.find("1125899906842624 bytes"), std::string::npos) << m;  // what was requested
    EXPECT_NE(m.find("in use"), std::string::npos) << m;
    EXPECT_NE(m.find("free of"), std::string::npos) << m;
  }
  // The failure was cleared: the next launch check does not report it.
  Tensor x = full({1000}, 2.0, Device::cuda());
  EXPECT_EQ(sum(x * 3.0).item(), 6000.0);
}

TEST_F(CudaAllocator, OnlyDeviceZeroIsServed) {
  // Note [one GPU per process]: cuda:1 is a clear error whatever the machine has.
  try {
    cuda_allocator(1);
    FAIL() << "cuda_allocator(1) returned";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("CUDA_VISIBLE_DEVICES"), std::string::npos) << e.message();
  }
  EXPECT_EQ(cuda_allocator(0).device(), Device::cuda(0));
}

}  // namespace
}  // namespace ember
