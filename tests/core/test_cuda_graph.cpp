// CudaGraph (core/cuda_graph.h): replays redo the captured work on the current inputs,
// memory freed while capturing stays valid for replays, a synchronising call fails the
// capture with a clear error and leaves the stream usable, and a capture happens once.
// Exact comparisons: the values are small integers and halves.
#include <gtest/gtest.h>

#include "core/cuda_graph.h"
#include "tests/core/cuda_vs_cpu.h"

namespace ember {
namespace {

using CudaGraphTest = testing::GpuTest;

TEST_F(CudaGraphTest, ReplayRecomputesFromTheCurrentInputs) {
  const Device gpu = Device::cuda();
  Tensor x = full({1001}, 1.0, gpu), y;
  CudaGraph graph;
  graph.capture([&] { y = (x * 2.0 + 1.0) * x; });  // a temporary freed inside the capture
  ASSERT_TRUE(graph.captured());
  EXPECT_GT(graph.pool_bytes(), 0);
  for (double v : {1.0, -3.0, 0.5}) {
    x.fill_(v);
    graph.replay();
    EXPECT_EQ(y.to_vector<float>(), std::vector<float>(1001, static_cast<float>((v * 2 + 1) * v)));
  }
}

TEST_F(CudaGraphTest, MemoryFreedWhileCapturingStaysValidForReplays) {
  const Device gpu = Device::cuda();
  Tensor x = full({4096}, 2.0, gpu);
  Tensor outside = x * 3.0;  // ordinary memory, last used and freed inside the capture
  Tensor y = empty({4096}, gpu);
  CudaGraph graph;
  graph.capture([&] {
    y.copy_(outside + 1.0);
    outside = Tensor();
  });
  // Reuse would show here: the freed block must not go back to the ordinary pool.
  std::vector<Tensor> others;
  for (int i = 0; i < 8; ++i) others.push_back(full({4096}, -5.0, gpu));
  graph.replay();
  EXPECT_EQ(y.to_vector<float>(), std::vector<float>(4096, 7.f));
}

TEST_F(CudaGraphTest, SynchronisingInsideACaptureFailsClearlyAndTheStreamRecovers) {
  const Device gpu = Device::cuda();
  Tensor x = full({8}, 1.0, gpu);
  CudaGraph graph;
  try {
    graph.capture([&] { (void)sum(x).item(); });
    FAIL() << "a host synchronisation was captured";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("capture"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(graph.captured());
  EXPECT_EQ(sum(x * 2.0).item(), 16.0);  // eager work runs again
}

TEST_F(CudaGraphTest, CaptureIsOnceAndReplayNeedsACapture) {
  CudaGraph graph;
  EXPECT_THROW(graph.replay(), Error);
  Tensor x = full({3}, 1.0, Device::cuda());
  graph.capture([&] { x.add_(x); });
  EXPECT_THROW(graph.capture([&] { x.add_(x); }), Error);
  graph.replay();
  graph.replay();
  EXPECT_EQ(x.to_vector<float>(), std::vector<float>(3, 4.f));
}

TEST_F(CudaGraphTest, CapturedKernelsOfSeveralGridPassesReplay) {
  // The grid-stride kernels' 32-bit bodies inside a graph: a strided copy, a broadcast and a
  // column reduction over more elements than one grid pass, replayed on new inputs.
  const int64_t n = (int64_t(1) << 20) + 5;
  Tensor x = full({3, n}, 1.0, Device::cuda()), row = full({1, n}, 2.0, Device::cuda()), y, s;
  CudaGraph graph;
  graph.capture([&] {
    y = x.t().contiguous() * row.t();
    s = sum(y, {0});
  });
  x.fill_(0.5);
  row.fill_(-4.0);
  graph.replay();
  EXPECT_EQ(s.to_vector<float>(), std::vector<float>(3, static_cast<float>(-2.0 * n)));
  EXPECT_EQ(y.slice(0, n - 2, n).to_vector<float>(), std::vector<float>(6, -2.f));
}

}  // namespace
}  // namespace ember
