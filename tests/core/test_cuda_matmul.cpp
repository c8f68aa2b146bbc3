// matmul on CUDA (cuBLAS) against the CPU (OpenBLAS), 2-D, transposed, batched, broadcast,
// one element and float64; and sizes past cuBLAS's 32-bit int arguments refused with a clear
// error before cuBLAS is called (GemmArgs carries int64).
// Tolerances: the fixture's reduction tolerance (atol 1e-5, rtol 1e-4: another summation
// order than the CPU's; TF32 is not used by ember's GEMM); float64 1e-12.
#include <limits>

#include <gtest/gtest.h>

#include "core/backend.h"
#include "tests/core/cuda_vs_cpu.h"

namespace ember {
namespace {

using testing::CudaVsCpu;
using testing::V;

using CudaMatmul = CudaVsCpu;

TEST_F(CudaMatmul, MatchesTheCpu) {
  check("2d", [](const V& x) { return matmul(x[0], x[1]); }, {random({7, 33}), random({33, 5})}, 1e-5, 1e-4);
  check("transposed", [](const V& x) { return matmul(x[1].t(), x[0].t()); }, {random({7, 33}), random({33, 5})}, 1e-5,
        1e-4);
  check("batched", [](const V& x) { return matmul(x[0], x[1]); }, {random({3, 4, 9}), random({3, 9, 2})}, 1e-5, 1e-4);
  check("broadcast", [](const V& x) { return matmul(x[0], x[1]); }, {random({3, 4, 9}), random({9, 2})}, 1e-5, 1e-4);
  check("1x1", [](const V& x) { return matmul(x[0], x[1]); }, {random({1, 1}), random({1, 1})}, 1e-6, 1e-5);
  check("double", [](const V& x) { return matmul(x[0], x[1]); },
        {random({5, 6}, -1, 1, DType::Float64), random({6, 7}, -1, 1, DType::Float64)}, 1e-12, 1e-12);
}

TEST_F(CudaMatmul, SizesBeyondCublasIntsAreAClearError) {
  // The check comes before cuBLAS reads anything, so tiny tensors stand in for huge ones.
  const Tensor a = zeros({2, 2}, Device::cuda()), b = zeros({2, 2}, Device::cuda()), c = zeros({2, 2}, Device::cuda());
  const int64_t too_big = int64_t(std::numeric_limits<int>::max()) + 1;
  for (int which = 0; which < 3; ++which) {
    GemmArgs g;
    g.m = g.n = g.k = g.lda = g.ldb = g.ldc = 2;
    (which == 0 ? g.m : which == 1 ? g.ldb : g.batch) = too_big;
    try {
      cuda_backend().gemm(g, a, b, c);
      ADD_FAILURE() << "no error for " << (which == 0 ? "m" : which == 1 ? "ldb" : "batch") << " = 2^31";
    } catch (const Error& e) {
      EXPECT_NE(e.message().find("does not fit cuBLAS's 32-bit arguments"), std::string::npos) << e.message();
    }
  }
}

}  // namespace
}  // namespace ember
