// Philox random tensors on CUDA against the CPU (Note [random streams] in kernels/philox.h):
// the same seed gives the same numbers. Uniforms are bit-identical (24 random bits scaled in
// double, and kernels/random.cu is compiled without FMA contraction, so low + (high - low) * u
// rounds as on the CPU), also for ranges other than [0, 1). Normals go through the device's
// and the host's double log/cos/sin, which differ by up to 2 ulp: rtol 1e-14 in double; rounded
// once to float they are equal except where the double results straddle a float rounding
// point: rtol 1.2e-7 (one float ulp).
#include <gtest/gtest.h>

#include "tests/core/cuda_vs_cpu.h"

namespace ember {
namespace {

using CudaRandom = testing::GpuTest;

TEST_F(CudaRandom, StreamsAreTheCpusOnes) {
  for (int64_t n : {int64_t(1), int64_t(3), int64_t(4), int64_t(1023), (int64_t(1) << 20) + 5}) {
    SCOPED_TRACE(n);
    Generator a(99), b(99);
    Tensor cu = rand({n}, Device::cuda(), &a), cc = rand({n}, {}, &b);
    EXPECT_BIT_EQUAL(cu, cc) << "uniform";
    Tensor wide_gpu = empty({n}, Device::cuda()), wide_cpu = empty({n});
    uniform_(wide_gpu, -2.5, 3.7, &a);
    uniform_(wide_cpu, -2.5, 3.7, &b);
    EXPECT_BIT_EQUAL(wide_gpu, wide_cpu) << "uniform in [-2.5, 3.7)";
    Tensor wide64_gpu = empty({n}, TensorOptions(Device::cuda()).dtype(DType::Float64));
    Tensor wide64_cpu = empty({n}, DType::Float64);
    uniform_(wide64_gpu, -1e-3, 7.0, &a);
    uniform_(wide64_cpu, -1e-3, 7.0, &b);
    EXPECT_BIT_EQUAL(wide64_gpu, wide64_cpu) << "float64 uniform in [-1e-3, 7)";
    Tensor nu = randn({n}, TensorOptions(Device::cuda()).dtype(DType::Float64), &a);
    Tensor nc = randn({n}, DType::Float64, &b);
    EXPECT_TRUE(testing::all_close(nu, nc, 1e-14, 1e-14)) << "normal";
    Tensor fu = randn({n}, Device::cuda(), &a), fc = randn({n}, {}, &b);
    EXPECT_TRUE(testing::all_close(fu, fc, 0, 1.2e-7)) << "normal float";
    // mean + std * z, not fused on the device: the libm's 2 ulp of z times std (4e-15) is all.
    Tensor su = empty({n}, TensorOptions(Device::cuda()).dtype(DType::Float64)), sc = empty({n}, DType::Float64);
    normal_(su, 0.3, 2.5, &a);
    normal_(sc, 0.3, 2.5, &b);
    EXPECT_TRUE(testing::all_close(su, sc, 1e-14, 1e-14)) << "normal(0.3, 2.5)";
  }
}

}  // namespace
}  // namespace ember
