// The CPU batch-norm kernels (nn/cpu/batch_norm_kernels_cpu.h) against the reference CPU
// layers (double statistics; bfloat16 through float32 copies): float32 and bfloat16, with and
// without the fused ReLU, on shapes with one-value planes, planes that are not a multiple of
// the kernels' 16 lanes, batch 1, odd channel counts, one large enough for several threads and
// channels long enough for several flushes of the float lanes into double;
// data far from zero (the shift); the running statistics, evaluation, and the same bits at 1,
// 2 and 3 threads.
//
// Tolerances, as |got - want| <= atol * max(1, max|want|) + rtol * |want|:
//  - float32: the kernels sum in 16 float lanes and a scalar pair for the planes' rests,
//    flushed to double every 4,096 and 256 values (Note [lane sums]), the reference everything
//    in double; the statistics then differ by about u * sqrt(256) relative (u = 6e-8), around
//    1e-6, and the backward's sums over M = N*H*W products likewise: atol 2e-5, rtol 2e-5
//    (the oneDNN layers' test's figures). A
//    wrong eps, shift or lane would be off by more than 1e-4. With the fused ReLU, an output
//    within ~1e-7 of zero could take the other side of the mask on the two sides; the fixed
//    seeds here have none (the lanes' own mask is checked exactly in FusedMaskOnTheLanes).
//  - bfloat16: each output is rounded once to bfloat16 from float32 values that agree as above,
//    so a value near a rounding boundary may round the other way: one bfloat16 step, 1/128.
//    The parameter gradients and statistics stay float32: 2e-5 as above.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/ops.h"
#include "kernels/bfloat16.h"
#include "kernels/nn_batch_norm_rule.h"
#include "nn/batch_norm.h"
#include "nn/cpu/batch_norm_kernels_cpu.h"
#include "tests/nn/nn_test_util.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using testing::uniform_tensor;

constexpr double kMomentum = 0.7, kEps = 1e-5;

struct Results {
  Tensor y, running_mean, running_var, dx, dw, db;
  Tensor save_mean, save_invstd;  // the kernels' only
};

::testing::AssertionResult close(const Tensor& got, const Tensor& want, double atol, double rtol) {
  const Tensor w = want.to(DType::Float64);
  const double scale = std::max(1.0, max(abs(w)).item());
  return testing::all_close(got.to(DType::Float64), w, atol * scale, rtol);
}

// The kernels, called directly: forward (running statistics from zeros and ones), then the
// backward of sum(y * dy).
Results run_kernels(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy, bool relu) {
  const int64_t channels = x.size(1);
  nn::BatchNormTrainArgs f;
  f.out = empty(x.sizes(), x.options());
  f.save_mean = empty({channels});
  f.save_invstd = empty({channels});
  f.input = x;
  f.weight = w;
  f.bias = b;
  f.running_mean = zeros({channels});
  f.running_var = ones({channels});
  f.momentum = kMomentum;
  f.eps = kEps;
  f.relu = relu;
  nn::cpu::batch_norm_kernels_forward_train(f);
  nn::BatchNormBackwardArgs g;
  g.grad_in = empty(x.sizes(), x.options());
  g.grad_weight = empty({channels});
  g.grad_bias = empty({channels});
  g.grad_out = dy;
  g.input = x;
  g.weight = w;
  g.save_mean = f.save_mean;
  g.save_invstd = f.save_invstd;
  g.bias = relu ? b : Tensor();
  g.eps = kEps;
  nn::cpu::batch_norm_kernels_backward(g, relu);
  return {f.out, f.running_mean, f.running_var, g.grad_in, g.grad_weight, g.grad_bias, f.save_mean, f.save_invstd};
}

// The same through the ops on the reference layers, with autograd.
Results run_reference(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy, bool relu) {
  testing::CpuLayersScope scope(nn::CpuLayers::Reference);
  const int64_t channels = x.size(1);
  Tensor running_mean = zeros({channels}), running_var = ones({channels});
  const Tensor xg = x.detach().set_requires_grad(true), wg = w.detach().set_requires_grad(true),
               bg = b.detach().set_requires_grad(true);
  Tensor y = nn::batch_norm(xg, wg, bg, running_mean, running_var, true, kMomentum, kEps);
  if (relu) y = ember::relu(y);
  sum(y.to(DType::Float32) * dy.to(DType::Float32)).backward();
  return {y.detach(), running_mean, running_var, xg.grad(), wg.grad(), bg.grad(), Tensor(), Tensor()};
}

struct KernelCase {
  Shape shape;
  double offset, spread;  // x uniform in offset +- spread
};

const KernelCase kCases[] = {
    {{1, 1, 1, 2}, 0, 1},     {{2, 3, 1, 1}, 3, 2},   {{3, 5, 7, 9}, 3, 2},  {{1, 17, 5, 3}, -1, 1},
    {{3, 2, 4, 4}, 0, 1},  // planes of exactly one chunk of lanes
    {{2, 4, 17, 17}, 0, 1},   {{5, 3, 1, 33}, 2, 1},  {{4, 16, 32, 32}, 0.5, 1},
    // Note [lane sums]: 600 one-value planes (all in the scalar rest, flushed to double every
    // 256 values), and planes of 143 values whose lanes flush every 29 planes.
    {{600, 3, 1, 1}, 1, 1},   {{40, 2, 11, 13}, -2, 1},
};

// The kernels' results and the reference's on one case: {got, want}.
std::pair<Results, Results> run_both(const KernelCase& c, DType dtype, bool relu, uint64_t seed) {
  const int64_t channels = c.shape[1];
  const Tensor x = (uniform_tensor(c.shape, seed, -c.spread, c.spread) + c.offset).to(dtype);
  const Tensor dy = uniform_tensor(c.shape, seed + 1).to(dtype);
  const Tensor w = uniform_tensor({channels}, seed + 2, 0.5, 1.5), b = uniform_tensor({channels}, seed + 3, -0.5, 0.5);
  return {run_kernels(x, w, b, dy, relu), run_reference(x, w, b, dy, relu)};
}

void expect_statistics_match(const Results& got, const Results& want) {
  EXPECT_TRUE(close(got.running_mean, want.running_mean, 2e-5, 2e-5)) << "running mean";
  EXPECT_TRUE(close(got.running_var, want.running_var, 2e-5, 2e-5)) << "running variance (unbiased)";
}

void expect_matches_reference(const KernelCase& c, DType dtype, bool relu, uint64_t seed) {
  const auto [got, want] = run_both(c, dtype, relu, seed);
  const double activation_tol = dtype == DType::BFloat16 ? 1.0 / 128 : 2e-5;
  EXPECT_TRUE(close(got.y, want.y, activation_tol, activation_tol)) << "output";
  EXPECT_TRUE(close(got.dx, want.dx, activation_tol, activation_tol)) << "input gradient";
  EXPECT_TRUE(close(got.dw, want.dw, 2e-5, 2e-5)) << "weight gradient";
  EXPECT_TRUE(close(got.db, want.db, 2e-5, 2e-5)) << "bias gradient";
  expect_statistics_match(got, want);
}

TEST(BatchNormKernelsCpu, TrainingMatchesTheReferenceLayers) {
  uint64_t seed = 31000;
  for (const KernelCase& c : kCases)
    for (DType dtype : {DType::Float32, DType::BFloat16})
      for (bool relu : {false, true}) {
        SCOPED_TRACE(shape_str(c.shape) + " " + dtype_name(dtype) + (relu ? " + relu" : ""));
        expect_matches_reference(c, dtype, relu, seed += 10);
      }
}

// Values 1000 +- 0.01 (variance 3e-5): float sums of squares around zero would lose the
// variance entirely (x^2 ~ 1e6 carries an ulp of 0.06); around the channel's first value they
// keep it. The outputs are looser than elsewhere by design, as on the GPU: the mean is stored
// in float32 (save_mean), half an ulp of 1000 (3e-5) off, which is 0.5% of the standard
// deviation (0.006) - as much as the float32 inputs' own spacing there. atol 1e-2 covers that
// (times weights up to 1.5); a variance lost to cancellation would be off by 100%.
TEST(BatchNormKernelsCpu, ShiftKeepsTheVarianceOfDataFarFromZero) {
  const auto [got, want] = run_both({{3, 4, 9, 11}, 1000, 0.01}, DType::Float32, false, 32000);
  expect_statistics_match(got, want);
  EXPECT_TRUE(close(got.y, want.y, 1e-2, 0)) << "output";
}

TEST(BatchNormKernelsCpu, EvaluationMatchesTheReferenceLayers) {
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor x = uniform_tensor({3, 7, 5, 19}, 33000, -2, 3).to(dtype);
    const Tensor w = uniform_tensor({7}, 33001, 0.5, 1.5), b = uniform_tensor({7}, 33002);
    const Tensor rm = uniform_tensor({7}, 33003), rv = uniform_tensor({7}, 33004, 0.5, 2);
    const Tensor got = empty(x.sizes(), x.options());
    nn::cpu::batch_norm_kernels_forward_eval(got, x, w, b, rm, rv, kEps);
    NoGradGuard no_grad;
    testing::CpuLayersScope scope(nn::CpuLayers::Reference);
    const Tensor want = nn::batch_norm(x, w, b, rm, rv, false, 0.1, kEps);
    const double tol = dtype == DType::BFloat16 ? 1.0 / 128 : 2e-5;
    EXPECT_TRUE(close(got, want, tol, tol));
  }
}

// Each channel is one thread's work, in a fixed order: the thread count changes no bit.
TEST(BatchNormKernelsCpu, TheThreadCountNeverChangesTheBits) {
  const Shape shape = {4, 19, 32, 17};  // 41,344 values: above the parallel grain (32,768); 19 channels split unevenly
  for (DType dtype : {DType::Float32, DType::BFloat16})
    for (bool relu : {false, true}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + (relu ? " + relu" : ""));
      const Tensor x = uniform_tensor(shape, 34000, -1, 2).to(dtype), dy = uniform_tensor(shape, 34001).to(dtype);
      const Tensor w = uniform_tensor({19}, 34002, 0.5, 1.5), b = uniform_tensor({19}, 34003);
      Results one;
      for (int threads : {1, 2, 3}) {
        testing::ThreadCountScope scope(threads);
        const Results r = run_kernels(x, w, b, dy, relu);
        if (threads == 1) {
          one = r;
          continue;
        }
        SCOPED_TRACE(std::to_string(threads) + " threads");
        for (const auto& [got, want] : {std::pair{r.y, one.y}, {r.dx, one.dx}, {r.dw, one.dw}, {r.db, one.db},
                                        {r.running_mean, one.running_mean}, {r.running_var, one.running_var},
                                        {r.save_mean, one.save_mean}, {r.save_invstd, one.save_invstd}})
          EXPECT_BIT_EQUAL(got, want);
      }
    }
}

// The fused ReLU's mask on the 16 lanes (bn_relu_floor's comparison) against the scalar rule
// (bn_masked_grad) where they could part: outputs of both zeros, the bfloat16 floor 2^-134 and
// its neighbours, the smallest subnormals, NaN. x = 0 with mean 0, invstd 1 and weight 1 makes
// channel c's recomputed output its bias, edge[c] (a float, not a bfloat16); dy = 1, so each
// channel's grad_bias counts the values that pass. A plane of 29 values fills one chunk of
// lanes and 13 single values.
TEST(BatchNormKernelsCpu, FusedMaskOnTheLanes) {
  const float floor16 = 0x1p-134f;
  const std::vector<float> edge = {0.f,  -0.f, floor16, -floor16, std::nextafter(floor16, 1.f),
                                   std::nextafter(floor16, 0.f), 0x1p-133f, 0x1p-149f, -0x1p-149f,
                                   std::numeric_limits<float>::quiet_NaN(), 1.f, -1.f, 0x1p-126f, 2.5f, -2.5f, 7.f};
  const int64_t channels = static_cast<int64_t>(edge.size());
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Shape shape = {1, channels, 1, 29};
    nn::BatchNormBackwardArgs g;
    g.grad_in = empty(shape, dtype);
    g.grad_weight = empty({channels});
    g.grad_bias = empty({channels});
    g.grad_out = ones(shape, dtype);
    g.input = zeros(shape, dtype);
    g.weight = ones({channels});
    g.bias = from_vector(edge, {channels});
    g.save_mean = zeros({channels});
    g.save_invstd = ones({channels});
    nn::cpu::batch_norm_kernels_backward(g, true);
    const std::vector<float> counted = g.grad_bias.to_vector<float>();
    for (int64_t c = 0; c < channels; ++c) {
      const float pass = dtype == DType::BFloat16
                             ? kernels::bn_masked_grad<bfloat16>(1.f, 0.f, 0.f, 1.f, 1.f, edge[c], true)
                             : kernels::bn_masked_grad<float>(1.f, 0.f, 0.f, 1.f, 1.f, edge[c], true);
      EXPECT_EQ(counted[c], 29 * pass) << "output " << std::hexfloat << edge[c];
    }
  }
}

TEST(BatchNormKernelsCpu, RejectActivationsThatDoNotMatchTheInput) {
  const Tensor x = uniform_tensor({2, 3, 4, 5}, 36000);
  nn::BatchNormTrainArgs f;
  f.out = empty({2, 3, 4, 4});  // wrong shape
  f.save_mean = empty({3});
  f.save_invstd = empty({3});
  f.input = x;
  f.weight = ones({3});
  f.bias = zeros({3});
  EXPECT_THROW(nn::cpu::batch_norm_kernels_forward_train(f), Error);
  f.out = empty(x.sizes(), DType::BFloat16);  // wrong type
  EXPECT_THROW(nn::cpu::batch_norm_kernels_forward_train(f), Error);
  f.input = uniform_tensor({1, 3, 1, 1}, 36001);  // one value per channel
  f.out = empty(f.input.sizes());
  EXPECT_THROW(nn::cpu::batch_norm_kernels_forward_train(f), Error);
}

TEST(BatchNormKernelsCpu, TakeContiguousFloatAndBfloat16Only) {
  const Tensor x = uniform_tensor({2, 3, 4, 5}, 35000);
  EXPECT_TRUE(nn::cpu::batch_norm_kernels_take(x));
  EXPECT_TRUE(nn::cpu::batch_norm_kernels_take(x.to(DType::BFloat16)));
  EXPECT_FALSE(nn::cpu::batch_norm_kernels_take(x.to(DType::Float64)));
  EXPECT_FALSE(nn::cpu::batch_norm_kernels_take(x.to_channels_last()));
  EXPECT_FALSE(nn::cpu::batch_norm_kernels_take(x.view({2, 3, 20})));
}

}  // namespace
}  // namespace ember
