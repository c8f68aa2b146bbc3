// bfloat16 on the GPU: the same rounding rule as the CPU, so casts and + - * relu agree bit
// for bit (also past one grid pass); exp goes through the device's expf (within 2 float ulp
// of the host's), which can flip one bfloat16 rounding: rtol 2^-7. Sums accumulate in float on
// the GPU and in double on the CPU before the one rounding: rtol 1e-2 (one bfloat16 ulp is
// 2^-8 relative).
#include <gtest/gtest.h>

#include "tests/core/cuda_vs_cpu.h"

namespace ember {
namespace {

using CudaBFloat16 = testing::GpuTest;

TEST_F(CudaBFloat16, ElementwiseCastsAndSumsMatchTheCpu) {
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(4099), (int64_t(1) << 20) + 5}) {
    SCOPED_TRACE(n);
    Generator g(n);
    Tensor fa = empty({n}), fb = empty({n});
    uniform_(fa, -3, 3, &g);
    uniform_(fb, -3, 3, &g);
    const Tensor a = fa.to(DType::BFloat16), b = fb.to(DType::BFloat16);
    const Tensor ga = fa.to(Device::cuda()).to(DType::BFloat16), gb = fb.to(Device::cuda()).to(DType::BFloat16);
    EXPECT_BIT_EQUAL(ga, a);  // the float -> bfloat16 rule on the device
    EXPECT_BIT_EQUAL(ga.to(DType::Float32), a.to(DType::Float32));
    EXPECT_BIT_EQUAL(ga + gb, a + b);
    EXPECT_BIT_EQUAL(ga * gb - gb, a * b - b);
    EXPECT_BIT_EQUAL(relu(ga), relu(a));
    EXPECT_ALL_CLOSE(exp(ga).to(DType::Float32), exp(a).to(DType::Float32), 0, 1.0 / 128);
    EXPECT_ALL_CLOSE(sum(ga).to(DType::Float32), sum(a).to(DType::Float32), 1e-2, 1e-2);
    Tensor ga2 = ga.view({1, n}).expand({3, n}).contiguous(), a2 = a.view({1, n}).expand({3, n}).contiguous();
    EXPECT_ALL_CLOSE(sum(ga2, {0}).to(DType::Float32), sum(a2, {0}).to(DType::Float32), 1e-2, 1e-2);
    EXPECT_ALL_CLOSE(sum(ga2, {1}).to(DType::Float32), sum(a2, {1}).to(DType::Float32), 1e-2, 1e-2);
  }
}

}  // namespace
}  // namespace ember
