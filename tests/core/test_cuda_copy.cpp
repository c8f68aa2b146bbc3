// Copies on CUDA: across devices, strided and transposed, with dtype conversion - where
// float-to-integer conversion of NaN, infinities and out-of-range values must give the CPU's
// bits (Note [float to integer conversion] in kernels/convert.h; NaN payloads compared as
// NaN) - fill and arange, gradients flowing back across devices, copies of sizes that take
// several grid-stride passes, and tensors of more than 2^31 elements, which take the 64-bit
// index bodies (2 GiB of uint8 each). Exact: a copy computes nothing.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "tests/core/cuda_vs_cpu.h"

namespace ember {
namespace {

using testing::CudaVsCpu;

using CudaCopy = CudaVsCpu;

TEST_F(CudaCopy, AcrossDevicesAndDtypes) {
  Tensor a = random({37, 5});
  Tensor g = a.to(Device::cuda());
  EXPECT_BIT_EQUAL(g, a);
  EXPECT_BIT_EQUAL(g.t().contiguous(), a.t().contiguous());
  EXPECT_BIT_EQUAL(g.to(DType::Int32), a.to(DType::Int32));
  Tensor dst = zeros({5, 37}, Device::cuda());
  dst.copy_(a.t());  // CPU strided source into a CUDA tensor
  EXPECT_BIT_EQUAL(dst, a.t().contiguous());
  Tensor host = zeros({37, 5});
  host.copy_(g);
  EXPECT_BIT_EQUAL(host, a);
  EXPECT_THROW(add(a, g), Error);
  EXPECT_EQ(arange(1027, TensorOptions(Device::cuda()).dtype(DType::Int64)).to_vector<int64_t>(),
            arange(1027).to_vector<int64_t>());
  EXPECT_EQ(full({3}, 2.5, Device::cuda()).to_vector<float>(), (std::vector<float>{2.5, 2.5, 2.5}));
}

TEST_F(CudaCopy, FloatToIntegerConversionIsTheCpusOnEveryValue) {
  const float big = 3e9f, inf = std::numeric_limits<float>::infinity();
  const std::vector<float> values = {NAN, -NAN, inf, -inf, big, -big, 2.9f, -2.9f, 255.5f, 256.f, -0.5f, -1.f, 0.f,
                                     2147483520.f, 2147483648.f, -2147483648.f, 9.3e18f, -9.3e18f};
  for (DType source : {DType::Float32, DType::Float64, DType::BFloat16}) {
    const Tensor cpu = from_vector(values, {int64_t(values.size())}).to(source), gpu = cpu.to(Device::cuda());
    for (DType target : {DType::Int64, DType::Int32, DType::UInt8}) {
      SCOPED_TRACE(std::string(dtype_name(source)) + " to " + dtype_name(target));
      EXPECT_BIT_EQUAL(gpu.to(target), cpu.to(target));
      Tensor filled_gpu = empty({5}, TensorOptions(target).device(Device::cuda())), filled_cpu = empty({5}, target);
      for (double v : {double(NAN), 1e300, -1e300, -7.5}) {
        filled_gpu.fill_(v);
        filled_cpu.fill_(v);
        EXPECT_BIT_EQUAL(filled_gpu, filled_cpu) << "fill " << v;
      }
    }
    // Floating to floating: NaN stays NaN (payloads may differ: bit_equal compares NaN as NaN).
    EXPECT_BIT_EQUAL(gpu.to(DType::Float32), cpu.to(DType::Float32));
    EXPECT_BIT_EQUAL(gpu.to(DType::BFloat16), cpu.to(DType::BFloat16));
  }
}

TEST_F(CudaCopy, GradientsCrossDevices) {
  Tensor x = random({4}).set_requires_grad(true);
  sum(x.to(Device::cuda()) * 3.0).backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().device(), Device::cpu());
  EXPECT_EQ(x.grad().to_vector<float>(), std::vector<float>(4, 3.f));
}

TEST_F(CudaCopy, SizesThatTakeSeveralGridStridePasses) {
  for (int64_t n : testing::kMultiPassSizes) {
    SCOPED_TRACE(n);
    const Tensor a = random({n});
    const Tensor g = a.to(Device::cuda());
    EXPECT_BIT_EQUAL(g.to(DType::BFloat16), a.to(DType::BFloat16));
    EXPECT_BIT_EQUAL(g.to(DType::Int64), a.to(DType::Int64));
    const int64_t cols = n / 5;
    const Tensor m = a.slice(0, 0, 5 * cols).view({5, cols});
    EXPECT_BIT_EQUAL(m.to(Device::cuda()).t().contiguous(), m.t().contiguous());  // strided source
    const int64_t h = n / 105;  // NCHW <-> NHWC copies of a [5, 3, h, 7] image batch
    const Tensor img = a.slice(0, 0, 105 * h).view({5, 3, h, 7});
    const Tensor nhwc = img.to(Device::cuda()).to_channels_last();
    EXPECT_TRUE(nhwc.is_channels_last());
    EXPECT_BIT_EQUAL(nhwc.permute({0, 2, 3, 1}), img.permute({0, 2, 3, 1}));
    Tensor big = empty({n}, DType::Int64);
    big.fill_(-3);
    Tensor big_gpu = empty({n}, TensorOptions(DType::Int64).device(Device::cuda()));
    big_gpu.fill_(-3);
    EXPECT_BIT_EQUAL(big_gpu, big);
    EXPECT_EQ(arange(n, TensorOptions(Device::cuda()).dtype(DType::Int64)).to_vector<int64_t>(),
              arange(n).to_vector<int64_t>());
  }
}

TEST_F(CudaCopy, HugeTensorsTakeThe64BitIndexPath) {
  const int64_t n = (int64_t(1) << 31) + 78, half = n / 2;
  Tensor a = empty({n}, TensorOptions(DType::UInt8).device(Device::cuda()));  // poisoned with 0xFF
  a.fill_(7);  // the flat 64-bit body
  EXPECT_EQ(a.slice(0, 0, 100).to_vector<uint8_t>(), std::vector<uint8_t>(100, 7));
  EXPECT_EQ(a.slice(0, n - 100, n).to_vector<uint8_t>(), std::vector<uint8_t>(100, 7));
  a.slice(0, 0, half).fill_(1);
  a.slice(0, half, n).fill_(2);
  const Tensor t = a.view({2, half}).t().contiguous();  // [half, 2]: the strided 64-bit body
  const std::vector<uint8_t> pairs = {1, 2, 1, 2, 1, 2};
  EXPECT_EQ(t.slice(0, 0, 3).to_vector<uint8_t>(), pairs);
  EXPECT_EQ(t.slice(0, half - 3, half).to_vector<uint8_t>(), pairs);
  EXPECT_EQ(t.slice(0, half / 2, half / 2 + 3).to_vector<uint8_t>(), pairs);
}

}  // namespace
}  // namespace ember
