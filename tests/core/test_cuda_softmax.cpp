// log_softmax and softmax cross-entropy on CUDA against the CPU: one block per row (rows of 1
// to 1001 columns, over either dim), label smoothing, count_correct, more rows than the
// row kernels' grid (65,535 blocks: blocks stride over the rows), and an out-of-range target
// giving a NaN loss on the device instead of reading out of bounds.
// Tolerances: the fixture's reduction tolerance (atol 1e-5, rtol 1e-4).
#include <cmath>

#include <gtest/gtest.h>

#include "tests/core/cuda_vs_cpu.h"

namespace ember {
namespace {

using testing::CudaVsCpu;
using testing::V;

using CudaSoftmax = CudaVsCpu;

Tensor targets_for(const Shape& s) {
  std::vector<int64_t> t;
  for (int64_t i = 0; i < s[0]; ++i) t.push_back((i * 7) % s[1]);
  return from_vector<int64_t>(t, {s[0]});
}

TEST_F(CudaSoftmax, LogSoftmaxAndCrossEntropyMatchTheCpu) {
  for (const Shape& s : {Shape{1, 1}, Shape{5, 10}, Shape{3, 1001}, Shape{257, 3}}) {
    Tensor x = random(s, -4, 4);
    check("log_softmax", [](const V& v) { return log_softmax(v[0], -1); }, {x}, 1e-5, 1e-4);
    check("log_softmax dim0", [](const V& v) { return log_softmax(v[0], 0); }, {x}, 1e-5, 1e-4);
    const Tensor targets = targets_for(s);
    for (double eps : {0.0, 0.1}) {
      check("cross_entropy", [&](const V& v) { return cross_entropy(v[0], v[1], eps); }, {x, targets}, 1e-5, 1e-4);
    }
    check("count_correct", [](const V& v) { return count_correct(v[0], v[1]); }, {x, targets}, 0, 0, false);
  }
}

TEST_F(CudaSoftmax, MoreRowsThanTheRowGrid) {
  const Shape s{70001, 10};
  const Tensor x = random(s, -4, 4), targets = targets_for(s);
  check("log_softmax", [](const V& v) { return log_softmax(v[0], -1); }, {x}, 1e-5, 1e-4);
  check("cross_entropy", [&](const V& v) { return cross_entropy(v[0], v[1], 0.1); }, {x, targets}, 1e-5, 1e-4);
}

TEST_F(CudaSoftmax, OutOfRangeTargetGivesNaNLossOnTheGpu) {
  Tensor x = random({2, 3}).to(Device::cuda());
  Tensor t = from_vector<int64_t>({0, 7}, {2}).to(Device::cuda());
  EXPECT_TRUE(std::isnan(cross_entropy(x, t).item()));
}

}  // namespace
}  // namespace ember
