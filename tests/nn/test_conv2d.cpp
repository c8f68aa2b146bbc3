// Conv2d on the CPU: the im2col + GEMM path (and oneDNN's, where built: Note [CPU layer
// backends]) against the direct-loop reference (tests/nn/reference_layers.h) for forward,
// backward-input and backward-weight, in float and double, on both thread paths (Note
// [batch-parallel GEMM]); gradcheck in double; the module's shapes, names and argument errors.
//
// Tolerances: float32 GEMM (or oneDNN's direct convolution) sums K = Cin*kh*kw products of values in [-1, 1) in another order
// than the double reference: the error is a few ulp of the sum's magnitude (<= K), so
// atol 1e-5 + rtol 1e-5 covers K up to ~200 with margin; double agrees to ~1e-13.
#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/conv2d.h"
#include "tests/nn/nn_test_util.h"
#include "tests/nn/reference_layers.h"
#include "tests/support/compare.h"
#include "tests/support/gradcheck.h"

namespace ember {
namespace {

using testing::all_close;
using testing::gradcheck;
using testing::random_leaf;
using testing::uniform_tensor;
using V = std::vector<Tensor>;

struct ConvCase {
  Shape input;   // N, C, H, W
  Shape weight;  // O, C, kh, kw
  nn::Size2 stride, padding;
  bool bias;
};

// Awkward shapes: 1x1 (no im2col), 1x1 strided (downsample), 3x3 pad 1, 7x7/2 pad 3 (the
// ImageNet stem), non-square inputs and strides, padding wider than a 1-pixel image row.
const std::vector<ConvCase> kCases = {
    {{2, 3, 5, 5}, {4, 3, 1, 1}, 1, 0, true},
    {{3, 5, 7, 6}, {2, 5, 1, 1}, 2, 0, false},
    {{2, 3, 8, 8}, {4, 3, 3, 3}, 1, 1, false},
    {{1, 2, 9, 7}, {3, 2, 3, 3}, 2, 1, true},
    {{2, 3, 13, 11}, {2, 3, 7, 7}, 2, 3, false},
    {{2, 2, 6, 9}, {3, 2, 3, 2}, {1, 2}, {1, 0}, true},
    {{1, 1, 1, 5}, {2, 1, 3, 3}, 1, 1, true},
    {{4, 8, 16, 16}, {6, 8, 3, 3}, 1, 1, true},  // big enough for the batch-parallel path
};

void check_against_reference(const ConvCase& c, DType dtype, double atol, double rtol, uint64_t seed) {
  SCOPED_TRACE("input " + shape_str(c.input) + " weight " + shape_str(c.weight) + " " + dtype_name(dtype));
  Tensor x = uniform_tensor(c.input, seed, -1, 1, dtype).set_requires_grad(true);
  Tensor w = uniform_tensor(c.weight, seed + 1, -1, 1, dtype).set_requires_grad(true);
  Tensor b = c.bias ? uniform_tensor({c.weight[0]}, seed + 2, -1, 1, dtype).set_requires_grad(true) : Tensor();
  Tensor y = nn::conv2d(x, w, b, {c.stride, c.padding});
  Tensor want = testing::reference_conv2d(x, w, b, c.stride, c.padding);
  ASSERT_EQ(y.sizes(), want.sizes());
  EXPECT_TRUE(all_close(y, want, atol, rtol));

  Tensor g = uniform_tensor(y.sizes(), seed + 3, -1, 1, dtype);
  sum(y * g).backward();
  testing::ConvGrads ref = testing::reference_conv2d_backward(x, w, b, g, c.stride, c.padding);
  EXPECT_TRUE(all_close(x.grad(), ref.input, atol, rtol)) << "grad input";
  EXPECT_TRUE(all_close(w.grad(), ref.weight, atol * 10, rtol)) << "grad weight";  // sums over N*Ho*Wo too
  if (c.bias) {
    EXPECT_TRUE(all_close(b.grad(), ref.bias, atol * 10, rtol)) << "grad bias";
  }
}

// Both CPU layer backends (Note [CPU layer backends]; oneDNN hands float64 to the reference).
TEST(Conv2d, MatchesDirectLoopsSequential) {
  testing::ThreadCountScope threads(1);
  for (nn::CpuLayers layers : testing::built_cpu_layers()) {
    SCOPED_TRACE(nn::cpu_layers_name(layers));
    testing::CpuLayersScope scope(layers);
    uint64_t seed = 10;
    for (const ConvCase& c : kCases) {
      check_against_reference(c, DType::Float32, 1e-5, 1e-5, seed += 10);
      check_against_reference(c, DType::Float64, 1e-12, 1e-12, seed += 10);
    }
  }
}

TEST(Conv2d, MatchesDirectLoopsBatchParallel) {
  testing::ThreadCountScope threads(3);  // batch >= 3 samples take the batch-parallel path
  for (nn::CpuLayers layers : testing::built_cpu_layers()) {
    SCOPED_TRACE(nn::cpu_layers_name(layers));
    testing::CpuLayersScope scope(layers);
    uint64_t seed = 500;
    for (const ConvCase& c : kCases) {
      check_against_reference(c, DType::Float32, 1e-5, 1e-5, seed += 10);
      check_against_reference(c, DType::Float64, 1e-12, 1e-12, seed += 10);
    }
  }
}

TEST(Conv2d, Gradcheck) {
  const std::vector<ConvCase> cases = {{{2, 2, 5, 5}, {3, 2, 3, 3}, 1, 1, true},
                                       {{2, 3, 6, 5}, {2, 3, 3, 3}, 2, 1, false},
                                       {{1, 2, 7, 7}, {2, 2, 7, 7}, 2, 3, true},
                                       {{2, 3, 4, 4}, {2, 3, 1, 1}, 2, 0, false},
                                       {{1, 2, 5, 6}, {2, 2, 2, 3}, {2, 1}, {1, 1}, true}};
  uint64_t seed = 900;
  for (const ConvCase& c : cases) {
    SCOPED_TRACE("input " + shape_str(c.input) + " weight " + shape_str(c.weight));
    V inputs = {random_leaf(c.input, seed++), random_leaf(c.weight, seed++)};
    if (c.bias) inputs.push_back(random_leaf({c.weight[0]}, seed++));
    const nn::Conv2dOptions options{c.stride, c.padding};
    EXPECT_TRUE(gradcheck(
        [&](const V& v) { return nn::conv2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), options); }, inputs));
  }
}

TEST(Conv2d, OnlyTheNeededGradientsAreComputed) {
  Tensor x = uniform_tensor({2, 3, 6, 6}, 1);  // an image batch: no gradient wanted
  Tensor w = uniform_tensor({4, 3, 3, 3}, 2).set_requires_grad(true);
  Tensor y = nn::conv2d(x, w, Tensor(), {1, 1});
  sum(y).backward();
  EXPECT_FALSE(x.grad().defined());
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().sizes(), w.sizes());
}

TEST(Conv2d, ModuleShapesNamesAndDescription) {
  Generator gen(3);
  nn::Conv2d conv({3, 64, 7, 2, 3, false}, &gen);
  const auto params = conv.named_parameters();
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].first, "weight");
  EXPECT_EQ(params[0].second.sizes(), (Shape{64, 3, 7, 7}));
  EXPECT_EQ(conv.describe(), "3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False");
  Tensor y = conv(zeros({2, 3, 224, 224}));
  EXPECT_EQ(y.sizes(), (Shape{2, 64, 112, 112}));
  // torch's default init: uniform in +-1/sqrt(fan_in) = +-1/sqrt(147).
  const auto w = conv.weight().to_vector<float>();
  const double bound = 1.0 / std::sqrt(147.0);
  for (float v : w) ASSERT_TRUE(v >= -bound && v <= bound) << v;

  nn::Conv2d with_bias({2, 3, 3}, &gen);
  EXPECT_EQ(with_bias.named_parameters()[1].first, "bias");
  EXPECT_EQ(with_bias.describe(), "2, 3, kernel_size=(3, 3), stride=(1, 1)");
}

TEST(Conv2d, ArgumentErrorsNameTheShapes) {
  Tensor w = zeros({4, 3, 3, 3});
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { nn::conv2d(zeros({2, 5, 8, 8}), w, Tensor()); }).find("has 5 channels"), std::string::npos);
  EXPECT_NE(message([&] { nn::conv2d(zeros({2, 3, 8}), w, Tensor()); }).find("4-D"), std::string::npos);
  EXPECT_NE(message([&] { nn::conv2d(zeros({2, 3, 2, 2}), w, Tensor()); }).find("larger than the padded input"),
            std::string::npos);
  EXPECT_NE(message([&] { nn::conv2d(zeros({2, 3, 8, 8}), w, zeros({3})); }).find("bias of shape [3]"),
            std::string::npos);
  EXPECT_NE(message([&] { nn::conv2d(zeros({2, 3, 8, 8}, DType::Int64), w, Tensor()); }).find("must be floating-point"),
            std::string::npos);
  EXPECT_NE(message([&] { nn::conv2d(zeros({2, 3, 8, 8}), w, Tensor(), {0, 1}); }).find("stride must be positive"),
            std::string::npos);
}

}  // namespace
}  // namespace ember
