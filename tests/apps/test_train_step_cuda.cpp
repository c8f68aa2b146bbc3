// TrainStep's CUDA graph on the fast path: ResNet-18 in bf16 with channels_last activations,
// so the captured step holds ember's NHWC bfloat16 batch-norm kernels, the fused batch norm +
// ReLU (forward and backward), cuDNN's NHWC bf16 convolutions and the layout copies between
// NCHW and NHWC (the input, the ImageNet stem's max pooling and the gradients that reach a
// batch norm in NCHW). Replayed steps must equal eager steps on the same batches to the last
// bit: with deterministic convolutions (nn/conv_algorithms.h) both run the same kernels on the
// same values, and the capturable SGD step computes its scalars the same way in both.
#include <memory>

#include <gtest/gtest.h>

#include "apps/common/train_step.h"
#include "core/ops.h"
#include "nn/conv_algorithms.h"
#include "nn/resnet.h"
#include "optim/optimizer.h"
#include "tests/support/compare.h"
#include "tests/support/gpu_test.h"

namespace ember {
namespace {

class TrainStepFastPath : public testing::GpuTest {
 protected:
  void SetUp() override {
    GpuTest::SetUp();
    if (!IsSkipped()) nn::set_deterministic_convolutions(true);
  }
  void TearDown() override {
    nn::set_deterministic_convolutions(false);
    GpuTest::TearDown();
  }
};

struct FastModel {
  Generator gen{17};
  nn::ResNet18 model;
  std::unique_ptr<optim::FlatParameters> flat;
  std::unique_ptr<optim::Optimizer> optimizer;
  explicit FastModel(nn::Stem stem) : model(10, stem, &gen) {
    model.set_compute_dtype(DType::BFloat16);
    model.set_channels_last(true);
    model.to(Device::cuda());
    flat = std::make_unique<optim::FlatParameters>(model.named_parameters(), Device::cuda());
    optimizer = optim::make_optimizer("sgd:lr=0.05,momentum=0.9,weight_decay=5e-4,capturable=true", *flat);
  }
};

TEST_F(TrainStepFastPath, ReplayedBf16ChannelsLastStepsEqualEagerSteps) {
  for (nn::Stem stem : {nn::Stem::Cifar, nn::Stem::ImageNet}) {
    SCOPED_TRACE(nn::stem_name(stem));
    FastModel eager(stem), graphed(stem);
    TrainStepOptions options;
    TrainStep a(eager.model, *eager.optimizer, options);
    options.cuda_graph = true;
    options.warmup = 2;
    options.batch_size = 16;
    TrainStep b(graphed.model, *graphed.optimizer, options);
    for (int t = 0; t < 7; ++t) {
      SCOPED_TRACE(t);
      if (t == 5) eager.optimizer->set_lr(0.01), graphed.optimizer->set_lr(0.01);
      Generator g(500 + t);
      const Tensor images = randn({16, 3, 32, 32}, TensorOptions(), &g).to(Device::cuda());
      std::vector<int64_t> classes;
      for (int64_t i = 0; i < 16; ++i) classes.push_back((t * 3 + i * 7) % 10);
      const Tensor labels = from_vector(classes, {16}, TensorOptions(DType::Int64)).to(Device::cuda());
      const TrainStep::Result want = a.run(images, labels), got = b.run(images, labels);
      ASSERT_EQ(b.graph_failure(), "");
      EXPECT_EQ(b.replayed_last(), t >= 2);
      EXPECT_TRUE(testing::bit_equal(got.loss, want.loss));
      EXPECT_TRUE(testing::bit_equal(got.logits, want.logits));
    }
    EXPECT_TRUE(testing::bit_equal(graphed.flat->values(), eager.flat->values()));
    const auto want_buffers = eager.model.named_buffers(), got_buffers = graphed.model.named_buffers();
    for (size_t i = 0; i < want_buffers.size(); ++i)
      EXPECT_TRUE(testing::bit_equal(got_buffers[i].second, want_buffers[i].second)) << want_buffers[i].first;
  }
}

}  // namespace
}  // namespace ember
