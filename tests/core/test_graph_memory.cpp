// GraphMemory (core/graph_memory.h), the host bookkeeping behind CUDA-graph capture, driven
// with malloc/free: which blocks are reused, what stays reserved, which frees are kept. And
// CudaGraph's clear error where there is no CUDA.
#include <cstdlib>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "core/cuda_graph.h"
#include "core/device.h"
#include "core/error.h"
#include "core/graph_memory.h"

namespace ember {
namespace {

// A GraphMemory over malloc that counts what the system was asked for.
struct CountingSystem {
  int allocs = 0, frees = 0;
  std::set<void*> live;
  GraphMemory make() {
    return GraphMemory(
        [this](size_t n) {
          ++allocs;
          void* p = std::malloc(n);
          live.insert(p);
          return p;
        },
        [this](void* p) {
          ++frees;
          live.erase(p);
          std::free(p);
        });
  }
};

TEST(GraphMemory, FreedBlockIsReusedBySameOrSlightlySmallerSize) {
  CountingSystem sys;
  {
    GraphMemory pool = sys.make();
    void* a = pool.allocate(1024);
    pool.release(a);
    EXPECT_EQ(pool.allocate(1024), a);  // same size
    pool.release(a);
    EXPECT_EQ(pool.allocate(600), a);  // within 2x: reused
    EXPECT_EQ(sys.allocs, 1);
    EXPECT_EQ(pool.reserved_bytes(), 1024);
    pool.release(a);
  }
  EXPECT_EQ(sys.frees, 1);
  EXPECT_TRUE(sys.live.empty());
}

TEST(GraphMemory, SmallRequestDoesNotPinALargeBlockAndLargeRequestGetsNewBlock) {
  CountingSystem sys;
  GraphMemory pool = sys.make();
  void* big = pool.allocate(4096);
  pool.release(big);
  void* small = pool.allocate(256);  // 4096 > 2 * 256: a new block
  EXPECT_NE(small, big);
  void* bigger = pool.allocate(8192);  // no free block is large enough
  EXPECT_NE(bigger, big);
  EXPECT_EQ(sys.allocs, 3);
  EXPECT_EQ(pool.blocks(), 3);
  EXPECT_EQ(pool.reserved_bytes(), 4096 + 256 + 8192);
  EXPECT_EQ(pool.allocate(3000), big);  // best fit among the free blocks
  for (void* p : {small, bigger, big}) pool.release(p);
}

TEST(GraphMemory, BlocksInUseAreNeverHandedOutTwice) {
  // Allocations and releases interleaved (as a captured step frees temporaries while others
  // live): a block in use never comes back from allocate().
  CountingSystem sys;
  GraphMemory pool = sys.make();
  std::set<void*> in_use;
  std::vector<void*> held;
  const size_t sizes[] = {256, 512, 256, 1000, 300, 512, 256, 700, 256, 1000};
  for (int round = 0; round < 50; ++round) {
    void* p = pool.allocate(sizes[round % 10]);
    ASSERT_TRUE(in_use.insert(p).second) << "block handed out twice, round " << round;
    held.push_back(p);
    if (round % 3 == 2) {  // free the oldest held block
      pool.release(held.front());
      in_use.erase(held.front());
      held.erase(held.begin());
    }
  }
  EXPECT_LT(pool.blocks(), 50);  // released blocks were reused
  for (void* p : held) pool.release(p);
}

TEST(GraphMemory, ReleasingAForeignOrFreeBlockIsAnError) {
  CountingSystem sys;
  GraphMemory pool = sys.make();
  int not_ours = 0;
  EXPECT_THROW(pool.release(&not_ours), Error);
  void* a = pool.allocate(64);
  pool.release(a);
  EXPECT_THROW(pool.release(a), Error);  // double release
}

TEST(GraphMemory, KeptFreesRunOnlyWhenDestroyed) {
  CountingSystem sys;
  int ran = 0;
  {
    GraphMemory pool = sys.make();
    pool.keep_until_destroyed([&] { ++ran; });
    pool.keep_until_destroyed([&] { ++ran; });
    EXPECT_EQ(pool.kept_frees(), 2);
    EXPECT_EQ(ran, 0);
  }
  EXPECT_EQ(ran, 2);
}

TEST(CudaGraph, WithoutAGpuConstructionSaysWhy) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present: the GPU suite test_core_cuda covers CudaGraph";
  try {
    CudaGraph graph;
    FAIL() << "CudaGraph constructed without a GPU";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_TRUE(what.find("CUDA") != std::string::npos) << what;
  }
}

}  // namespace
}  // namespace ember
