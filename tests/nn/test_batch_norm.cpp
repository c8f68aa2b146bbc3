// BatchNorm2d on the CPU: forward against the direct formula, gradcheck in training and
// evaluation mode, running statistics after several steps against torch's update formulas
// (written out here independently), train vs eval behaviour, num_batches_tracked.
#include <cmath>

#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/batch_norm.h"
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

TEST(BatchNorm, TrainingForwardMatchesFormula) {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Tensor x = uniform_tensor({3, 4, 5, 6}, 1, -2, 3, dtype), w = uniform_tensor({4}, 2, 0.5, 1.5, dtype);
    Tensor b = uniform_tensor({4}, 3, -1, 1, dtype);
    Tensor y = nn::batch_norm(x, w, b, Tensor(), Tensor(), true);
    // float32: statistics accumulate in double, so only the output rounding differs.
    const double tol = dtype == DType::Float32 ? 1e-5 : 1e-12;
    EXPECT_TRUE(all_close(y, testing::reference_batch_norm_train(x, w, b, 1e-5), tol, tol)) << dtype_name(dtype);
  }
}

TEST(BatchNorm, GradcheckTrainingMode) {
  for (const Shape& shape : {Shape{2, 3, 4, 4}, Shape{3, 2, 1, 5}, Shape{5, 1, 1, 1}}) {
    SCOPED_TRACE(shape_str(shape));
    Tensor x = random_leaf(shape, 10, -2, 2), w = random_leaf({shape[1]}, 11, 0.5, 1.5), b = random_leaf({shape[1]}, 12);
    Tensor rm = zeros({shape[1]}, DType::Float64), rv = ones({shape[1]}, DType::Float64);
    EXPECT_TRUE(gradcheck([&](const V& v) { return nn::batch_norm(v[0], v[1], v[2], rm, rv, true); }, {x, w, b}));
  }
}

TEST(BatchNorm, GradcheckEvaluationMode) {
  Tensor x = random_leaf({2, 3, 3, 4}, 20), w = random_leaf({3}, 21, 0.5, 1.5), b = random_leaf({3}, 22);
  Tensor rm = testing::uniform_tensor({3}, 23, -0.5, 0.5, DType::Float64);
  Tensor rv = testing::uniform_tensor({3}, 24, 0.5, 2.0, DType::Float64);
  EXPECT_TRUE(gradcheck([&](const V& v) { return nn::batch_norm(v[0], v[1], v[2], rm, rv, false); }, {x, w, b}));
}

TEST(BatchNorm, EvaluationPathsAgree) {
  // Without gradients evaluation runs the backend's kernel; with them, core ops. Same maths.
  Tensor x = uniform_tensor({2, 3, 4, 4}, 30, -2, 2), w = uniform_tensor({3}, 31), b = uniform_tensor({3}, 32);
  Tensor rm = uniform_tensor({3}, 33, -0.5, 0.5), rv = uniform_tensor({3}, 34, 0.5, 2.0);
  Tensor plain = nn::batch_norm(x, w, b, rm, rv, false);
  Tensor w_leaf = w.clone().set_requires_grad(true);
  Tensor traced = nn::batch_norm(x, w_leaf, b, rm, rv, false);
  EXPECT_TRUE(traced.requires_grad());
  EXPECT_TRUE(all_close(traced, plain, 1e-6, 1e-6));
  // And both equal the definition with the running statistics.
  std::vector<double> want;
  const auto xv = x.to_vector<float>(), wv = w.to_vector<float>(), bv = b.to_vector<float>();
  const auto mv = rm.to_vector<float>(), vv = rv.to_vector<float>();
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = (i / 16) % 3;
    want.push_back((xv[i] - mv[c]) / std::sqrt(vv[c] + 1e-5) * wv[c] + bv[c]);
  }
  EXPECT_TRUE(all_close(plain, from_vector<double>(want, x.sizes()), 1e-5, 1e-5));
}

TEST(BatchNorm, RunningStatisticsFollowTorchFormulas) {
  nn::BatchNorm2d bn(3, 1e-5, 0.1);
  std::vector<double> mean(3, 0.0), var(3, 1.0);  // torch's initial running statistics
  for (int step = 0; step < 5; ++step) {
    Tensor x = uniform_tensor({4, 3, 2, 3}, 100 + step, -1.0 + step, 2.0 + 0.5 * step);
    bn(x);
    // torch: running_mean = (1 - m) running_mean + m mean;
    //        running_var  = (1 - m) running_var  + m var * n / (n - 1)   (n = N*H*W = 24)
    const auto xv = x.to_vector<float>();
    for (int c = 0; c < 3; ++c) {
      double s = 0, ss = 0;
      int n = 0;
      for (size_t i = 0; i < xv.size(); ++i)
        if (static_cast<int>((i / 6) % 3) == c) s += xv[i], ++n;
      const double m = s / n;
      for (size_t i = 0; i < xv.size(); ++i)
        if (static_cast<int>((i / 6) % 3) == c) ss += (xv[i] - m) * (xv[i] - m);
      mean[c] = 0.9 * mean[c] + 0.1 * m;
      var[c] = 0.9 * var[c] + 0.1 * ss / (n - 1);
    }
  }
  EXPECT_TRUE(all_close(bn.running_mean(), from_vector<double>(mean, {3}), 1e-6, 1e-6));
  EXPECT_TRUE(all_close(bn.running_var(), from_vector<double>(var, {3}), 1e-6, 1e-6));
  EXPECT_EQ(bn.num_batches_tracked().dtype(), DType::Int64);
  EXPECT_EQ(bn.num_batches_tracked().dim(), 0);
  EXPECT_EQ(bn.num_batches_tracked().item<int64_t>(), 5);

  // Evaluation: normalises with the running statistics and leaves them (and the counter) alone.
  bn.eval();
  Tensor x = uniform_tensor({2, 3, 2, 2}, 200);
  Tensor y = bn(x);
  EXPECT_EQ(bn.num_batches_tracked().item<int64_t>(), 5);
  EXPECT_TRUE(all_close(bn.running_mean(), from_vector<double>(mean, {3}), 1e-6, 1e-6));
  const auto xv = x.to_vector<float>();
  std::vector<double> want;
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = (i / 4) % 3;
    want.push_back((xv[i] - mean[c]) / std::sqrt(var[c] + 1e-5));
  }
  EXPECT_TRUE(all_close(y, from_vector<double>(want, x.sizes()), 1e-5, 1e-5));
  // Training mode again differs: batch statistics.
  bn.train();
  EXPECT_FALSE(all_close(bn(x), y, 1e-3, 1e-3));
}

TEST(BatchNorm, NamesAndErrors) {
  nn::BatchNorm2d bn(4);
  std::vector<std::string> names;
  for (const auto& [name, t] : bn.state_dict()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_EQ(bn.num_parameters(), 8);
  EXPECT_EQ(bn.describe(), "4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True");
  // One value per channel cannot be normalised in training mode (torch raises too).
  EXPECT_THROW(bn(zeros({1, 4, 1, 1})), Error);
  EXPECT_THROW(bn(zeros({2, 3, 4, 4})), Error);  // wrong channel count
  bn.eval();
  EXPECT_NO_THROW(bn(zeros({1, 4, 1, 1})));
}

}  // namespace
}  // namespace ember
