// CUDA layers against the CPU layers: every layer forward and backward on fresh random
// inputs of awkward shapes, allocations poisoned with NaN (GpuTest), TF32 off; batch norm's
// running statistics; whole ResNet-18 forward and backward for both stems; checkpoints
// written from CUDA and read back bit-exact; plans reused.
//
// Tolerances (TF32 off, cuDNN in FMA math): convolutions sum K = Cin*kh*kw products in an
// order (and algorithm: implicit GEMM, FFT, Winograd) unlike the CPU's GEMM; FFT and
// Winograd lose a few more bits than a dot product, relative to the output's overall
// magnitude: atol 1e-4 times max(1, max|reference|), rtol 1e-3 (style guide: cuDNN 1e-4 to
// 1e-3). Batch norm: 1e-5 (reductions in another order); pooling is exact: 0. The whole
// network: 1e-3 relative to the largest value, error compounding over 20 layers; each whole
// parameter gradient also as a vector (tests/support/compare.h, gradients_agree): cosine
// >= 0.9999 (elementwise errors of 1e-3 of the largest element allow about that) and norm
// within 1e-3, so a gradient off by a constant factor fails even where the elements are tiny.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/batch_norm.h"
#include "nn/checkpoint.h"
#include "nn/conv2d.h"
#include "nn/layer_backend.h"
#include "nn/linear.h"
#include "nn/pooling.h"
#include "nn/resnet.h"
#include "tests/nn/nn_cuda_test_util.h"
#include "tests/nn/nn_test_util.h"
#include "tests/support/compare.h"
#include "tests/support/device_compare.h"
#include "tests/support/gpu_test.h"

namespace ember {
namespace {

using testing::all_close;
using V = std::vector<Tensor>;
using Op = std::function<Tensor(const V&)>;

class NnCudaVsCpu : public testing::GpuTest {
 protected:
  void SetUp() override {
    GpuTest::SetUp();
    if (IsSkipped()) return;
    nn::set_conv_tf32(false);
  }
  void TearDown() override {
    nn::set_conv_tf32(true);
    GpuTest::TearDown();
  }

  Tensor random(const Shape& shape, double low = -1, double high = 1, DType dtype = DType::Float32) {
    return testing::uniform_tensor(shape, seed_++, low, high, dtype);
  }

  // |got - want| <= atol * max(1, max|want|) + rtol * |want|: cuDNN's FFT and Winograd
  // algorithms err relative to the whole output's magnitude, not each element's.
  static ::testing::AssertionResult close(const Tensor& got, const Tensor& want, double atol, double rtol) {
    const double scale = want.numel() > 0 ? std::max(1.0, max(abs(want.detach())).item()) : 1.0;
    return all_close(got, want, atol * scale, rtol);
  }

  // Outputs and gradients of sum(out * w) (tests/support/device_compare.h).
  void check(const char* name, const Op& op, const V& inputs, double atol, double rtol) {
    SCOPED_TRACE(name);
    testing::expect_cuda_matches_cpu(
        op, inputs, [&](const Tensor& got, const Tensor& want) { return close(got, want, atol, rtol); }, true,
        seed_++);
  }

  uint64_t seed_ = 7000;
};

struct ConvCase {
  Shape input, weight;
  nn::Size2 stride, padding;
  bool bias;
};

TEST_F(NnCudaVsCpu, Conv2dForwardAndBackward) {
  const std::vector<ConvCase> cases = {
      {{2, 3, 32, 32}, {64, 3, 3, 3}, 1, 1, false},    // CIFAR stem
      {{2, 3, 37, 41}, {16, 3, 7, 7}, 2, 3, false},    // ImageNet stem, odd sizes
      {{3, 16, 9, 9}, {32, 16, 1, 1}, 2, 0, false},    // downsample
      {{1, 5, 7, 6}, {7, 5, 3, 3}, {2, 1}, {1, 0}, true},
      {{4, 64, 8, 8}, {64, 64, 3, 3}, 1, 1, true},
      {{1, 1, 1, 1}, {3, 1, 3, 3}, 1, 1, true},        // a single pixel
  };
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(shape_str(c.input) + " * " + shape_str(c.weight));
    V inputs = {random(c.input), random(c.weight)};
    if (c.bias) inputs.push_back(random({c.weight[0]}));
    const nn::Conv2dOptions options{c.stride, c.padding};
    check("conv2d", [&](const V& v) { return nn::conv2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), options); },
          inputs, 1e-4, 1e-3);
  }
}

TEST_F(NnCudaVsCpu, Conv2dDoublePrecision) {
  V inputs = {random({2, 4, 9, 9}, -1, 1, DType::Float64), random({5, 4, 3, 3}, -1, 1, DType::Float64),
              random({5}, -1, 1, DType::Float64)};
  check("conv2d f64", [](const V& v) { return nn::conv2d(v[0], v[1], v[2], {2, 1}); }, inputs, 1e-12, 1e-10);
}

TEST_F(NnCudaVsCpu, Conv2dPlansAreReusedAndTf32StaysClose) {
  Tensor x = random({2, 8, 16, 16}).to(Device::cuda()), w = random({8, 8, 3, 3}).to(Device::cuda());
  nn::conv2d(x, w, Tensor(), {1, 1});
  const size_t plans = nn::cudnn_conv_plan_count();
  for (int i = 0; i < 3; ++i) nn::conv2d(x, w, Tensor(), {1, 1});
  EXPECT_EQ(nn::cudnn_conv_plan_count(), plans);
  const Tensor exact = nn::conv2d(x, w, Tensor(), {1, 1});
  nn::set_conv_tf32(true);
  const Tensor tf32 = nn::conv2d(x, w, Tensor(), {1, 1});
  EXPECT_EQ(nn::cudnn_conv_plan_count(), plans + 1);  // the math mode is part of the key
  // TF32 keeps 10 mantissa bits: ~1e-3 relative per product, sums of 72 products of |x| < 1.
  EXPECT_TRUE(all_close(tf32, exact, 2e-2, 1e-2));
}

TEST_F(NnCudaVsCpu, BatchNormTrainingEvaluationAndRunningStatistics) {
  for (const Shape& shape : {Shape{4, 3, 5, 7}, Shape{2, 64, 8, 8}, Shape{3, 2, 1, 1}}) {
    SCOPED_TRACE(shape_str(shape));
    const int64_t c = shape[1];
    Tensor rm_cpu = random({c}, -0.5, 0.5), rv_cpu = random({c}, 0.5, 2.0);
    Tensor rm_gpu = rm_cpu.to(Device::cuda()), rv_gpu = rv_cpu.to(Device::cuda());
    V inputs = {random(shape, -2, 3), random({c}, 0.5, 1.5), random({c})};
    int call = 0;
    // Training mode: one call on each device, each updating its own running statistics.
    check("batch_norm train",
          [&](const V& v) {
            const bool cuda = call++ == 1;
            return nn::batch_norm(v[0], v[1], v[2], cuda ? rm_gpu : rm_cpu, cuda ? rv_gpu : rv_cpu, true);
          },
          inputs, 1e-5, 1e-4);
    EXPECT_TRUE(all_close(rm_gpu, rm_cpu, 1e-6, 1e-5)) << "running_mean";
    EXPECT_TRUE(all_close(rv_gpu, rv_cpu, 1e-6, 1e-5)) << "running_var (unbiased update)";
    call = 0;
    check("batch_norm eval",
          [&](const V& v) {
            const bool cuda = call++ == 1;
            return nn::batch_norm(v[0], v[1], v[2], cuda ? rm_gpu : rm_cpu, cuda ? rv_gpu : rv_cpu, false);
          },
          inputs, 1e-5, 1e-4);
    NoGradGuard no_grad;  // evaluation without gradients runs cuDNN's inference kernel
    EXPECT_TRUE(all_close(nn::batch_norm(inputs[0].to(Device::cuda()), inputs[1].to(Device::cuda()),
                                         inputs[2].to(Device::cuda()), rm_gpu, rv_gpu, false),
                          nn::batch_norm(inputs[0], inputs[1], inputs[2], rm_cpu, rv_cpu, false), 1e-5, 1e-4));
  }
}

TEST_F(NnCudaVsCpu, BatchNormModuleCountsOnTheDevice) {
  nn::BatchNorm2d bn(5);
  bn.to(Device::cuda());
  for (int i = 0; i < 3; ++i) bn(random({2, 5, 3, 3}).to(Device::cuda()));
  EXPECT_EQ(bn.num_batches_tracked().device(), Device::cuda());
  EXPECT_EQ(bn.num_batches_tracked().item<int64_t>(), 3);
}

TEST_F(NnCudaVsCpu, MaxPoolAvgPoolLinear) {
  for (const Shape& shape : {Shape{2, 3, 8, 8}, Shape{1, 4, 7, 9}, Shape{2, 64, 112, 112}, Shape{1, 1, 1, 1}}) {
    SCOPED_TRACE(shape_str(shape));
    check("max_pool2d", [](const V& v) { return nn::max_pool2d(v[0], {3, 2, 1}); }, {random(shape)}, 0, 0);
    check("avg_pool", [](const V& v) { return nn::global_avg_pool2d(v[0]); }, {random(shape)}, 1e-6, 1e-5);
  }
  check("max_pool2d 2x3", [](const V& v) { return nn::max_pool2d(v[0], {{2, 3}, {2, 1}, {1, 1}}); },
        {random({2, 3, 6, 7})}, 0, 0);
  check("linear", [](const V& v) { return nn::linear(v[0], v[1], v[2]); },
        {random({5, 512}), random({10, 512}), random({10})}, 1e-5, 1e-4);
}

TEST_F(NnCudaVsCpu, WholeResNet18BothStems) {
  for (nn::Stem stem : {nn::Stem::Cifar, nn::Stem::ImageNet}) {
    SCOPED_TRACE(nn::stem_name(stem));
    Generator gen_cpu(21), gen_gpu(21);
    nn::ResNet18 cpu_model(10, stem, &gen_cpu), gpu_model(10, stem, &gen_gpu);
    gpu_model.to(Device::cuda());
    const auto cpu_state = cpu_model.state_dict(), gpu_state = gpu_model.state_dict();
    for (size_t i = 0; i < cpu_state.size(); ++i)  // same seed, same Philox numbers on both devices
      ASSERT_TRUE(testing::bit_equal(gpu_state[i].second, cpu_state[i].second)) << cpu_state[i].first;
    const int64_t size = stem == nn::Stem::Cifar ? 32 : 64;
    Tensor x = random({2, 3, size, size}, -2, 2);
    Tensor targets = from_vector<int64_t>({1, 8}, {2});
    Tensor cpu_loss = cross_entropy(cpu_model(x), targets);
    Tensor gpu_loss = cross_entropy(gpu_model(x.to(Device::cuda())), targets.to(Device::cuda()));
    EXPECT_NEAR(gpu_loss.item(), cpu_loss.item(), 1e-3 * std::fabs(cpu_loss.item()) + 1e-4);
    cpu_loss.backward();
    gpu_loss.backward();
    const auto cpu_params = cpu_model.named_parameters(), gpu_params = gpu_model.named_parameters();
    for (size_t i = 0; i < cpu_params.size(); ++i) {
      const Tensor& want = cpu_params[i].second.grad();
      const double scale = max(abs(want)).item();
      EXPECT_TRUE(all_close(gpu_params[i].second.grad(), want, 1e-3 * scale + 1e-6, 1e-3)) << cpu_params[i].first;
      EXPECT_TRUE(testing::gradients_agree(gpu_params[i].second.grad(), want, 0.9999, 1e-3)) << cpu_params[i].first;
    }
    const auto cpu_after = cpu_model.state_dict(), gpu_after = gpu_model.state_dict();
    for (size_t i = 0; i < cpu_after.size(); ++i) {
      if (cpu_after[i].first.find("running") != std::string::npos) {
        EXPECT_TRUE(all_close(gpu_after[i].second, cpu_after[i].second, 1e-4, 1e-3)) << cpu_after[i].first;
      }
    }
    // Evaluation mode (cuDNN inference path for BN).
    cpu_model.eval();
    gpu_model.eval();
    NoGradGuard no_grad;
    Tensor want = cpu_model(x), got = gpu_model(x.to(Device::cuda()));
    EXPECT_TRUE(all_close(got, want, 1e-3 * max(abs(want)).item(), 1e-3));
  }
}

TEST_F(NnCudaVsCpu, CheckpointRoundTripFromTheDevice) {
  Generator gen(33);
  nn::ResNet18 model(10, nn::Stem::Cifar, &gen);
  model.to(Device::cuda());
  model(random({2, 3, 32, 32}).to(Device::cuda()));  // running statistics move on the GPU
  const std::string path =
      (std::filesystem::temp_directory_path() / ("ember_nn_cuda_" + std::to_string(::getpid()) + ".safetensors"))
          .string();
  nn::save_checkpoint(path, model);
  nn::ResNet18 cpu_copy(10, nn::Stem::Cifar), gpu_copy(10, nn::Stem::Cifar);
  gpu_copy.to(Device::cuda());
  nn::load_checkpoint(path, cpu_copy);
  nn::load_checkpoint(path, gpu_copy);
  std::remove(path.c_str());
  const auto a = model.state_dict(), b = cpu_copy.state_dict(), c = gpu_copy.state_dict();
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(testing::bit_equal(b[i].second, a[i].second)) << a[i].first;
    EXPECT_TRUE(testing::bit_equal(c[i].second, a[i].second)) << a[i].first;
    EXPECT_EQ(c[i].second.device(), Device::cuda()) << a[i].first;
  }
}

}  // namespace
}  // namespace ember

// Mixed precision on the GPU against the CPU's widening path (nn/cpu/widening_layer_backend.h):
// bfloat16 convolutions on tensor cores (float accumulation), ember's bfloat16 batch-norm
// kernels with float32 parameters and statistics, bfloat16 max pooling. Tolerance: the GPU
// accumulates in float in another order than the CPU's double, then both round to bfloat16
// (steps of 2^-8 relative): an element can land a step or two apart, and where a sum cancels
// (a BN output or gradient near 0) the relative gap grows, so rtol 1/64 (4 steps) plus atol
// 1e-2 of the output's magnitude (about 3 steps of its largest element). A wrong index, channel
// or formula is off by O(1). Pooling picks and sums the same values in the same order:
// exact. Running statistics are float32 sums in another order: 1e-5.
namespace ember {
namespace {

using BFloat16Layers = NnCudaVsCpu;

using testing::bf16_close;

TEST_F(BFloat16Layers, ConvBatchNormAndPoolingMatchTheCpu) {
  auto bf = [&](const Shape& s, double low = -1, double high = 1) { return random(s, low, high).to(DType::BFloat16); };
  testing::expect_cuda_matches_cpu(
      [](const V& v) { return nn::conv2d(v[0], v[1], Tensor(), nn::Conv2dOptions{2, 1}); },
      {bf({3, 5, 11, 13}), bf({7, 5, 3, 3})}, bf16_close(1e-2, 1.0 / 64), true, 11);
  testing::expect_cuda_matches_cpu([](const V& v) { return nn::conv2d(v[0], v[1], v[2], nn::Conv2dOptions{1, 1}); },
                                   {bf({2, 64, 8, 8}), bf({64, 64, 3, 3}), bf({64})}, bf16_close(1e-2, 1.0 / 64), true,
                                   12);  // with a bias: ember's add and sum, not cuDNN's
  for (const Shape& shape : {Shape{3, 4, 5, 7}, Shape{2, 3, 1, 1}, Shape{16, 8, 32, 32}}) {
    SCOPED_TRACE(shape_str(shape));
    const int64_t c = shape[1];
    const V inputs = {bf(shape, 1, 3), random({c}, 0.5, 1.5), random({c}, -0.5, 0.5)};
    testing::expect_cuda_matches_cpu(
        [c](const V& v) {
          const Tensor rm = zeros({c}, v[0].device()), rv = ones({c}, v[0].device());
          return nn::batch_norm(v[0], v[1], v[2], rm, rv, true);
        },
        inputs, bf16_close(1e-2, 1.0 / 64), true, 13);
    Tensor rm_cpu = zeros({c}), rv_cpu = ones({c});
    Tensor rm_gpu = zeros({c}, Device::cuda()), rv_gpu = ones({c}, Device::cuda());
    NoGradGuard no_grad;
    nn::batch_norm(inputs[0], inputs[1], inputs[2], rm_cpu, rv_cpu, true);
    nn::batch_norm(inputs[0].to(Device::cuda()), inputs[1].to(Device::cuda()), inputs[2].to(Device::cuda()), rm_gpu,
                   rv_gpu, true);
    EXPECT_TRUE(all_close(rm_gpu, rm_cpu, 1e-5, 1e-5));
    EXPECT_TRUE(all_close(rv_gpu, rv_cpu, 1e-5, 1e-5));
    const Tensor eval_cpu = nn::batch_norm(inputs[0], inputs[1], inputs[2], rm_cpu, rv_cpu, false);
    const Tensor eval_gpu = nn::batch_norm(inputs[0].to(Device::cuda()), inputs[1].to(Device::cuda()),
                                           inputs[2].to(Device::cuda()), rm_gpu, rv_gpu, false);
    EXPECT_TRUE(bf16_close(1e-2, 1.0 / 64)(eval_gpu, eval_cpu));
  }
  testing::expect_cuda_matches_cpu([](const V& v) { return nn::max_pool2d(v[0], nn::MaxPool2dOptions{3, 2, 1}); },
                                   {bf({2, 3, 9, 8})}, bf16_close(0, 0), true, 14);
}

TEST_F(BFloat16Layers, MixedPrecisionResNet18MatchesTheCpu) {
  for (nn::Stem stem : {nn::Stem::Cifar, nn::Stem::ImageNet}) {
    SCOPED_TRACE(nn::stem_name(stem));
    Generator g1(21), g2(21);
    nn::ResNet18 cpu(10, stem, &g1), gpu(10, stem, &g2);
    cpu.set_compute_dtype(DType::BFloat16);
    gpu.set_compute_dtype(DType::BFloat16);
    gpu.to(Device::cuda());
    const Tensor images = random({4, 3, 32, 32}, -2, 2);
    const Tensor labels = from_vector(std::vector<int64_t>{0, 9, 4, 4}, {4});
    const Tensor want = cpu(images), got = gpu(images.to(Device::cuda()));
    EXPECT_EQ(got.dtype(), DType::Float32);
    EXPECT_TRUE(close(got.to(Device::cpu()), want, 5e-2, 5e-2));
    cross_entropy(want, labels).backward();
    cross_entropy(got, labels.to(Device::cuda())).backward();
    const auto a = cpu.named_parameters(), b = gpu.named_parameters();
    for (size_t i = 0; i < a.size(); ++i) {
      SCOPED_TRACE(a[i].first);
      // Both are bfloat16 runs, but roundings that land on different sides of a tie grow
      // through 20 layers; the ImageNet stem's last batch norms average only 4 values. Noise
      // that keeps the cosine above 0.9 changes the norm by about 10% at most (it adds in
      // quadrature), so the norm ratio must be within 25%: a gradient off by a constant
      // factor (cosine 1) fails.
      EXPECT_TRUE(testing::gradients_agree(b[i].second.grad(), a[i].second.grad(), 0.9, 0.25));
    }
  }
}

}  // namespace
}  // namespace ember

// channels_last on the GPU (Note [channels_last]): cuDNN NHWC convolutions and batch norm,
// ember's NHWC bfloat16 batch norm, against the CPU (which computes in NCHW); the outputs stay
// NHWC on the device. Tolerances as the NCHW suites above.
namespace ember {
namespace {

using ChannelsLastLayers = NnCudaVsCpu;

TEST_F(ChannelsLastLayers, ConvAndBatchNormKeepNhwcAndMatchTheCpu) {
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const double atol = dtype == DType::Float32 ? 1e-4 : 1e-2, rtol = dtype == DType::Float32 ? 1e-3 : 1.0 / 64;
    const V conv_inputs = {random({3, 16, 9, 11}).to(dtype), random({8, 16, 3, 3}).to(dtype)};
    testing::expect_cuda_matches_cpu(
        [](const V& v) { return nn::conv2d(v[0].to_channels_last(), v[1], Tensor(), nn::Conv2dOptions{1, 1}); },
        conv_inputs, bf16_close(atol, rtol), true, 21);
    // ember's NHWC kernels: channels dividing the 256 threads, not dividing them (idle
    // threads), and more channels than threads (a partial last chunk).
    for (int64_t c : {8, 3, 100, 320}) {
      SCOPED_TRACE(c);
      const V bn_inputs = {random({4, c, 5, 6}, 1, 3).to(dtype), random({c}, 0.5, 1.5), random({c})};
      testing::expect_cuda_matches_cpu(
          [](const V& v) { return nn::batch_norm(v[0].to_channels_last(), v[1], v[2], Tensor(), Tensor(), true); },
          bn_inputs, bf16_close(atol, rtol), true, 22);
    }
    NoGradGuard no_grad;
    const Tensor y = nn::conv2d(conv_inputs[0].to(Device::cuda()).to_channels_last(), conv_inputs[1].to(Device::cuda()),
                                Tensor(), nn::Conv2dOptions{1, 1});
    EXPECT_TRUE(y.is_channels_last() && !y.is_contiguous());
    const Tensor z = nn::batch_norm(y, ones({8}, Device::cuda()), zeros({8}, Device::cuda()), Tensor(), Tensor(), true);
    EXPECT_TRUE(z.is_channels_last() && !z.is_contiguous());
  }
}

TEST_F(ChannelsLastLayers, ChannelsLastResNet18MatchesTheCpu) {
  // fp32: TF32 off (the fixture), cuDNN's NHWC convolutions and ember's NHWC batch norm (float
  // partial sums combined in double) against the CPU's double batch norm: as tight as the
  // NCHW twin (WholeResNet18BothStems: every gradient element within 1e-3 of the largest, and
  // the norm within 1e-3). bf16: as MixedPrecisionResNet18MatchesTheCpu (cosine > 0.9, norm
  // within 25%).
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    for (nn::Stem stem : {nn::Stem::Cifar, nn::Stem::ImageNet}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " " + nn::stem_name(stem));
      Generator g1(23), g2(23);
      nn::ResNet18 cpu(10, stem, &g1), gpu(10, stem, &g2);
      for (nn::ResNet18* m : {&cpu, &gpu}) {
        m->set_compute_dtype(dtype);
        m->set_channels_last(true);
      }
      gpu.to(Device::cuda());
      const Tensor images = random({4, 3, 32, 32}, -2, 2);
      const Tensor labels = from_vector(std::vector<int64_t>{1, 2, 3, 1}, {4});
      const Tensor want = cpu(images), got = gpu(images.to(Device::cuda()));
      const double tol = dtype == DType::Float32 ? 1e-3 : 5e-2;
      EXPECT_TRUE(close(got.to(Device::cpu()), want, tol, tol));
      cross_entropy(want, labels).backward();
      cross_entropy(got, labels.to(Device::cuda())).backward();
      const auto a = cpu.named_parameters(), b = gpu.named_parameters();
      for (size_t i = 0; i < a.size(); ++i) {
        SCOPED_TRACE(a[i].first);
        const Tensor& want = a[i].second.grad();
        if (dtype == DType::Float32) {
          EXPECT_TRUE(all_close(b[i].second.grad(), want, 1e-3 * max(abs(want)).item() + 1e-6, 1e-3));
          EXPECT_TRUE(testing::gradients_agree(b[i].second.grad(), want, 0.9999, 1e-3));
        } else {
          EXPECT_TRUE(testing::gradients_agree(b[i].second.grad(), want, 0.9, 0.25));
        }
      }
    }
  }
}

}  // namespace
}  // namespace ember

// The fused batch norm + relu (one forward pass, one backward pass with the mask recomputed
// from x) against the CPU's relu(batch_norm): bfloat16 NCHW and NHWC, float32 NHWC, and
// channel counts that divide the NHWC kernel's 256 threads, leave some idle, or exceed them.
namespace ember {
namespace {

using FusedBatchNormRelu = NnCudaVsCpu;

TEST_F(FusedBatchNormRelu, MatchesReluOfBatchNormOnTheCpu) {
  ASSERT_TRUE(nn::layer_backend_for(Device::cuda()).fuses_batch_norm_relu(
      zeros({1, 1, 1, 1}, TensorOptions(DType::BFloat16).device(Device::cuda()))));
  struct Case {
    DType dtype;
    bool nhwc;
  };
  for (const Case k : {Case{DType::BFloat16, false}, Case{DType::BFloat16, true}, Case{DType::Float32, true}}) {
    for (int64_t c : {8, 3, 100, 320}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(k.dtype) << (k.nhwc ? " NHWC" : " NCHW") << " C=" << c);
      const V inputs = {random({4, c, 5, 7}, -2, 2).to(k.dtype), random({c}, 0.5, 1.5), random({c}, -0.5, 0.5)};
      const bool fp32 = k.dtype == DType::Float32;
      testing::expect_cuda_matches_cpu(
          [k](const V& v) {
            const Tensor x = k.nhwc ? v[0].to_channels_last() : v[0];
            return nn::batch_norm_relu(x, v[1], v[2], Tensor(), Tensor(), true);
          },
          inputs, bf16_close(fp32 ? 1e-4 : 1e-2, fp32 ? 1e-3 : 1.0 / 64), true, 31);
    }
  }
}

}  // namespace
}  // namespace ember
