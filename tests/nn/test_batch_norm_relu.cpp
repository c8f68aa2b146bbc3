// BatchNorm2d::forward_relu on the CPU: no backend fuses there, so it is the two modules
// (counting the batch once); the fused CUDA pass is checked against them in
// tests/nn/test_nn_cuda.cpp (FusedBatchNormRelu).
#include <gtest/gtest.h>

#include "core/ops.h"
#include "nn/activation.h"
#include "nn/batch_norm.h"
#include "nn/layer_backend.h"
#include "tests/nn/nn_test_util.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

TEST(BatchNormRelu, CpuRunsTheTwoModulesAndCountsTheBatchOnce) {
  const Tensor x = testing::uniform_tensor({2, 4, 3, 3}, 54, -2, 2).to(DType::BFloat16);
  EXPECT_FALSE(nn::layer_backend_for(Device::cpu()).fuses_batch_norm_relu(x));
  nn::BatchNorm2d bn(4), reference(4);
  nn::ReLU relu;
  EXPECT_BIT_EQUAL(bn.forward_relu(x, relu), relu(reference(x)));
  EXPECT_EQ(bn.num_batches_tracked().item(), 1.0);
}

}  // namespace
}  // namespace ember
