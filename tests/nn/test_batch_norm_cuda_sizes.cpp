// ember's batch-norm kernels (kernels/nn_batch_norm.cu) on every walk they choose (Note
// [batch-norm index paths]): 16-byte packs or single values, NCHW planes on the 2-D grid or
// flat walks with multiply-shift divisions, NHWC channel packs, a misaligned tensor (vector
// loads must fall back), sizes past one grid pass, more planes than the 2-D grid's y limit, and
// a tensor of more than 2^31 elements (the 64-bit index path). Training forward and backward,
// plain and fused with ReLU.
//
// Tolerances: against the CPU's widening path as the bfloat16 suites of test_nn_cuda.cpp
// (atol 1e-2 of the largest value, rtol 1/64: a float sum in another order than double, then
// one bfloat16 rounding); float32 NHWC 1e-4 / 1e-3 (reductions in another order). Where the
// CPU would be too slow (10^8 elements and more) the reference is on the GPU: cuDNN's float32
// batch norm on the same values, or the same samples repeated, whose statistics are those of
// one sample (their weight and bias gradients N times one sample's: rtol 1e-3 for float sums
// over many more terms).
#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/functional.h"
#include "tests/nn/nn_cuda_test_util.h"
#include "tests/nn/nn_test_util.h"
#include "tests/support/gpu_test.h"

namespace ember {
namespace {

using V = std::vector<Tensor>;
using testing::bf16_close;

class BatchNormCudaSizes : public testing::GpuTest {
 protected:
  V inputs(const Shape& shape, DType dtype) {
    const int64_t c = shape[1];
    return {testing::uniform_tensor(shape, seed_++, -2, 3).to(dtype), testing::uniform_tensor({c}, seed_++, 0.5, 1.5),
            testing::uniform_tensor({c}, seed_++, -0.5, 0.5)};
  }
  static Tensor bn(const V& v, bool nhwc, bool relu) {
    const Tensor x = nhwc ? v[0].to_channels_last() : v[0];
    return relu ? nn::batch_norm_relu(x, v[1], v[2], Tensor(), Tensor(), true)
                : nn::batch_norm(x, v[1], v[2], Tensor(), Tensor(), true);
  }
  uint64_t seed_ = 900;
};

struct Walk {
  Shape shape;
  DType dtype;
  bool nhwc;
  const char* what;
};

TEST_F(BatchNormCudaSizes, EveryWalkMatchesTheCpu) {
  const std::vector<Walk> walks = {
      {{4, 5, 32, 32}, DType::BFloat16, false, "NCHW planes of 128 packs: 2-D grid, 128 x 2 threads"},
      {{3, 7, 16, 16}, DType::BFloat16, false, "NCHW planes of 32 packs: 2-D grid, 32 x 8 threads"},
      {{3, 4, 15, 15}, DType::BFloat16, false, "NCHW 15x15 planes: single values on the 2-D grid"},
      {{5, 3, 5, 5}, DType::BFloat16, false, "NCHW 5x5 planes (25 values < 32): single values, flat walk"},
      {{6, 8, 4, 4}, DType::BFloat16, false, "NCHW planes of 2 packs: flat walk of packs"},
      {{3, 64, 5, 6}, DType::BFloat16, true, "NHWC, 8 packs of channels"},
      {{3, 3, 5, 6}, DType::BFloat16, true, "NHWC, 3 channels: single values"},
      {{2, 2056, 2, 2}, DType::BFloat16, true, "NHWC, 257 channel packs: more than the block's threads"},
      {{3, 64, 5, 6}, DType::Float32, true, "NHWC float32, 16 packs of 4 channels"},
      {{3, 6, 5, 6}, DType::Float32, true, "NHWC float32, 6 channels: single values"},
      {{640, 64, 8, 8}, DType::BFloat16, false, "NCHW, 327,680 packs: several grid-stride passes"},
      {{64, 64, 32, 32}, DType::BFloat16, true, "NHWC, 524,288 packs: several grid-stride passes"},
  };
  for (const Walk& w : walks) {
    for (bool relu : {false, true}) {
      SCOPED_TRACE(::testing::Message() << w.what << (relu ? ", fused relu" : ""));
      const bool fp32 = w.dtype == DType::Float32;
      testing::expect_cuda_matches_cpu([&](const V& v) { return bn(v, w.nhwc, relu); }, inputs(w.shape, w.dtype),
                                       bf16_close(fp32 ? 1e-4 : 1e-2, fp32 ? 1e-3 : 1.0 / 64), true, seed_++);
    }
  }
}

TEST_F(BatchNormCudaSizes, AMisalignedTensorFallsBackToSingleValues) {
  // A view one element into its storage: 2-byte aligned, so 16-byte packs would fault.
  const V v = inputs({4, 16, 8, 8}, DType::BFloat16);
  const Tensor storage = empty({1 + v[0].numel()}, TensorOptions(DType::BFloat16).device(Device::cuda()));
  Tensor x = storage.slice(0, 1, 1 + v[0].numel()).view(v[0].sizes());
  x.copy_(v[0]);
  const Tensor w = v[1].to(Device::cuda()), b = v[2].to(Device::cuda());
  NoGradGuard no_grad;
  const Tensor got = nn::batch_norm_relu(x, w, b, Tensor(), Tensor(), true);
  const Tensor want = nn::batch_norm_relu(v[0], v[1], v[2], Tensor(), Tensor(), true);
  EXPECT_TRUE(bf16_close(1e-2, 1.0 / 64)(got, want));
}

// Forward and backward of bf16 x against cuDNN's float32 batch norm on the same values.
void expect_matches_cudnn_float(const Tensor& x, const Tensor& dy, const Tensor& w, const Tensor& b) {
  const Tensor xs = x.detach().set_requires_grad(true), ws = w.detach().set_requires_grad(true);
  const Tensor bs = b.detach().set_requires_grad(true);
  const Tensor y = nn::batch_norm(xs, ws, bs, Tensor(), Tensor(), true);
  (y.to(DType::Float32) * dy.to(DType::Float32)).sum().backward();
  const Tensor xf = x.to(DType::Float32).detach().set_requires_grad(true), wf = w.detach().set_requires_grad(true);
  const Tensor bf = b.detach().set_requires_grad(true);
  const Tensor yf = nn::batch_norm(xf, wf, bf, Tensor(), Tensor(), true);  // cuDNN (float32 NCHW)
  (yf * dy.to(DType::Float32)).sum().backward();
  EXPECT_TRUE(bf16_close(1e-2, 1.0 / 64)(y, yf)) << "y";
  EXPECT_TRUE(bf16_close(1e-2, 1.0 / 64)(xs.grad(), xf.grad())) << "dx";
  EXPECT_TRUE(testing::all_close(ws.grad(), wf.grad(), 1e-3 * max(abs(wf.grad())).item(), 1e-3)) << "dw";
  EXPECT_TRUE(testing::all_close(bs.grad(), bf.grad(), 1e-3 * max(abs(bf.grad())).item(), 1e-3)) << "db";
}

TEST_F(BatchNormCudaSizes, MorePlanesThanTheGridsYLimit) {
  // 524,288 planes of 16x16 (32 packs): 8 planes per block, 65,536 blocks in y > 65,535.
  const Shape shape{2048, 256, 16, 16};
  Generator g(31);
  Tensor x = empty(shape, Device::cuda()), dy = empty(shape, Device::cuda());
  uniform_(x, -2, 3, &g);
  uniform_(dy, -1, 1, &g);
  const Tensor w = testing::uniform_tensor({256}, 32, 0.5, 1.5).to(Device::cuda());
  const Tensor b = testing::uniform_tensor({256}, 33, -0.5, 0.5).to(Device::cuda());
  expect_matches_cudnn_float(x.to(DType::BFloat16), dy.to(DType::BFloat16), w, b);
}

TEST_F(BatchNormCudaSizes, HugeTensorsTakeThe64BitIndexPath) {
  // 2049 copies of one [1, 64, 128, 128] sample: 2,148,532,224 elements (> 2^31; 4.3 GB per
  // bf16 tensor). The batch's statistics are the sample's, so every copy's output and input
  // gradient are those of batch norm over the single sample (the 32-bit path), and the
  // parameter gradients are 2049 times the sample's.
  const int64_t copies = 2049;
  const Shape one{1, 64, 128, 128};
  const V v = inputs(one, DType::BFloat16);
  const Tensor dy1 = testing::uniform_tensor(one, 77, -1, 1).to(DType::BFloat16).to(Device::cuda());
  const Tensor x1 = v[0].to(Device::cuda()), w = v[1].to(Device::cuda()), b = v[2].to(Device::cuda());
  auto run = [&](const Tensor& x, const Tensor& dy) {
    const Tensor xs = x.detach().set_requires_grad(true), ws = w.detach().set_requires_grad(true);
    const Tensor bs = b.detach().set_requires_grad(true);
    const Tensor y = nn::batch_norm(xs, ws, bs, Tensor(), Tensor(), true);
    y.backward(dy);
    return V{y.detach(), xs.grad(), ws.grad(), bs.grad()};
  };
  const V small = run(x1, dy1);
  const Shape big{copies, 64, 128, 128};
  const V huge = run(x1.expand(big).contiguous(), dy1.expand(big).contiguous());
  for (int64_t n : {int64_t(0), copies / 2, copies - 1}) {
    SCOPED_TRACE(n);
    EXPECT_TRUE(bf16_close(1e-2, 1.0 / 64)(huge[0].slice(0, n, n + 1), small[0])) << "y";
    EXPECT_TRUE(bf16_close(1e-2, 1.0 / 64)(huge[1].slice(0, n, n + 1), small[1])) << "dx";
  }
  EXPECT_TRUE(testing::all_close(huge[2], small[2] * double(copies), 1e-3 * copies, 1e-3)) << "dw";
  EXPECT_TRUE(testing::all_close(huge[3], small[3] * double(copies), 1e-3 * copies, 1e-3)) << "db";
}

}  // namespace
}  // namespace ember
