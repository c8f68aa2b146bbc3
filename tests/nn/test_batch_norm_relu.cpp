// BatchNorm2d::forward_relu on the CPU: the reference layers do not fuse, so it is the two
// modules (counting the batch once); the oneDNN layers fuse through ember's CPU batch-norm
// kernels (nn/cpu/batch_norm_kernels_cpu.h), which must give the bits of the two modules on
// those layers, forward and backward: relu commutes with rounding (up to the sign of zero: a
// bfloat16 output in [-2^-134, 0) is +0 fused and -0 unfused, which random data never hits),
// and the fused backward's mask (the recomputed output > 0) is the relu backward's. The fused CUDA pass is checked
// against the two modules in tests/nn/test_nn_cuda.cpp (FusedBatchNormRelu).
#include <gtest/gtest.h>

#include "core/ops.h"
#include "nn/activation.h"
#include "nn/batch_norm.h"
#include "nn/layer_backend.h"
#include "tests/nn/nn_test_util.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

TEST(BatchNormRelu, ReferenceLayersRunTheTwoModulesAndCountTheBatchOnce) {
  testing::CpuLayersScope scope(nn::CpuLayers::Reference);
  const Tensor x = testing::uniform_tensor({2, 4, 3, 3}, 54, -2, 2).to(DType::BFloat16);
  EXPECT_FALSE(nn::layer_backend_for(Device::cpu()).fuses_batch_norm_relu(x));
  nn::BatchNorm2d bn(4), reference(4);
  nn::ReLU relu;
  EXPECT_BIT_EQUAL(bn.forward_relu(x, relu), relu(reference(x)));
  EXPECT_EQ(bn.num_batches_tracked().item(), 1.0);
}

TEST(BatchNormRelu, OnednnLayersFuseWithTheTwoModulesBits) {
  if (!nn::onednn_layers_built())
    GTEST_SKIP() << "this build has no oneDNN CPU layers (configured without libdnnl-dev)";
  testing::CpuLayersScope scope(nn::CpuLayers::OneDnn);
  for (DType dtype : {DType::Float32, DType::BFloat16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor x0 = testing::uniform_tensor({3, 6, 5, 7}, 55, -2, 2).to(dtype);
    const Tensor dy = testing::uniform_tensor({3, 6, 5, 7}, 56).to(DType::Float32);
    EXPECT_TRUE(nn::layer_backend_for(Device::cpu()).fuses_batch_norm_relu(x0));
    nn::BatchNorm2d fused(6), unfused(6);
    nn::ReLU relu;
    Tensor xs[2] = {x0.clone().set_requires_grad(true), x0.clone().set_requires_grad(true)};
    const Tensor y_fused = fused.forward_relu(xs[0], relu), y_unfused = relu(unfused(xs[1]));
    EXPECT_BIT_EQUAL(y_fused, y_unfused);
    EXPECT_EQ(fused.num_batches_tracked().item(), 1.0);
    EXPECT_BIT_EQUAL(fused.running_var(), unfused.running_var());
    sum(y_fused.to(DType::Float32) * dy).backward();
    sum(y_unfused.to(DType::Float32) * dy).backward();
    EXPECT_BIT_EQUAL(xs[0].grad(), xs[1].grad());
    EXPECT_BIT_EQUAL(fused.weight().grad(), unfused.weight().grad());
    EXPECT_BIT_EQUAL(fused.bias().grad(), unfused.bias().grad());
  }
}

}  // namespace
}  // namespace ember
