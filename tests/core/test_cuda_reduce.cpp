// Reductions on CUDA against the CPU (tests/core/cuda_vs_cpu.h): sums, means and maxima over
// each dim of awkward shapes (the row kernel for the last dim, the column kernel otherwise),
// ties and NaN for argmax, int64 and bfloat16 sums, more rows than the row kernels' grid
// (65,535 blocks, so blocks stride over rows) and column reductions with more outputs than
// one grid pass. compute-sanitizer's racecheck runs this suite (scripts/gpu-check.sh): the
// block reductions share memory between warps.
// Tolerances: the fixture's reduction tolerance (atol 1e-5, rtol 1e-4); max and argmax exact.
#include <cmath>

#include <gtest/gtest.h>

#include "tests/core/cuda_vs_cpu.h"

namespace ember {
namespace {

using testing::CudaVsCpu;
using testing::V;

using CudaReduce = CudaVsCpu;

TEST_F(CudaReduce, SumsMeansAndMaximaOverEachDim) {
  for (const Shape& s : {Shape{1}, Shape{1027}, Shape{7, 13}, Shape{3, 300, 5}, Shape{2, 3, 5, 7}}) {
    Tensor a = random(s);
    check("sum", [](const V& x) { return sum(x[0]); }, {a}, 1e-5, 1e-4);
    check("mean last", [](const V& x) { return mean(x[0], {-1}); }, {a}, 1e-5, 1e-4);
    check("sum first keepdim", [](const V& x) { return sum(x[0], {0}, true); }, {a}, 1e-5, 1e-4);
    check("max last", [](const V& x) { return max(x[0], -1).values; }, {a}, 0, 0);
    check("argmax first", [](const V& x) { return argmax(x[0], 0); }, {a}, 0, 0, false);
  }
  Tensor b = random({4, 6, 5});
  check("sum 0,2", [](const V& x) { return sum(x[0], {0, 2}); }, {b}, 1e-5, 1e-4);
  check("sum int64", [](const V& x) { return sum(x[0], {1}); }, {b.to(DType::Int64)}, 0, 0);
  check("max ties", [](const V& x) { return argmax(x[0], 1); }, {from_vector<float>({1, 3, 3, 2, NAN, 5}, {2, 3})}, 0, 0,
        false);
}

TEST_F(CudaReduce, MoreRowsThanTheRowGridAndColumnsPastOneGridPass) {
  // 70,001 rows: the row kernels' blocks stride over rows past 65,535.
  const Tensor rows = random({70001, 3});
  check("sum rows", [](const V& x) { return sum(x[0], {1}); }, {rows}, 1e-5, 1e-4);
  check("max rows", [](const V& x) { return max(x[0], 1).values; }, {rows}, 0, 0);
  check("argmax rows", [](const V& x) { return argmax(x[0], 1); }, {rows}, 0, 0, false);
  for (int64_t n : testing::kMultiPassSizes) {
    SCOPED_TRACE(n);
    // [3, n] reduced over dim 0: n outputs of the column kernel, several grid passes.
    const Tensor cols = random({3, n});
    check("sum columns", [](const V& x) { return sum(x[0], {0}); }, {cols}, 1e-5, 1e-4);
    check("argmax columns", [](const V& x) { return argmax(x[0], 0); }, {cols}, 0, 0, false);
    // One long row: a block's threads stride over n.
    check("sum all", [](const V& x) { return sum(x[0]); }, {random({n})}, 1e-5, 1e-4, false);
  }
}

TEST_F(CudaReduce, BFloat16SumsAccumulateInFloat) {
  // Rounded once to bfloat16 after float (GPU) or double (CPU) sums: rtol 1e-2, one bfloat16
  // step is 2^-8 relative.
  for (int64_t n : {int64_t(1), int64_t(4099), (int64_t(1) << 20) + 5}) {
    SCOPED_TRACE(n);
    const Tensor a = random({3, n}).to(DType::BFloat16);
    const Tensor g = a.to(Device::cuda());
    EXPECT_ALL_CLOSE(sum(g, {1}).to(DType::Float32), sum(a, {1}).to(DType::Float32), 1e-2, 1e-2);
    EXPECT_ALL_CLOSE(sum(g, {0}).to(DType::Float32), sum(a, {0}).to(DType::Float32), 1e-2, 1e-2);
  }
}

}  // namespace
}  // namespace ember
