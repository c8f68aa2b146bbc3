// TrainStep (apps/common/train_step.h): the eager step is exactly forward + loss + backward +
// optimiser step; graph mode refuses a CPU model or a non-capturable optimiser; and on a GPU
// a captured, replayed step trains like the eager one, a batch of another shape runs eagerly.
//
// GPU tolerance: both models use the same cuDNN algorithms (chosen once per shape), but
// some of them accumulate with atomics, so the two runs may differ in the last bits; after
// 9 SGD steps at lr 0.05 that stays far below atol 1e-4 / rtol 1e-3.
#include <memory>

#include <gtest/gtest.h>

#include "apps/common/train_step.h"
#include "core/ops.h"
#include "nn/resnet.h"
#include "optim/optimizer.h"
#include "tests/support/compare.h"
#include "tests/support/gpu_test.h"

namespace ember {
namespace {

struct Trainee {
  Generator gen{7};
  nn::ResNet18 model{10, nn::Stem::Cifar, &gen};
  std::unique_ptr<optim::FlatParameters> flat;
  std::unique_ptr<optim::Optimizer> optimizer;
  Trainee(Device device, const std::string& spec) {
    model.to(device);
    flat = std::make_unique<optim::FlatParameters>(model.named_parameters(), device);
    optimizer = optim::make_optimizer(spec, *flat);
  }
};

struct Batch {
  Tensor images, labels;
};

Batch random_batch(int64_t n, uint64_t seed, Device device) {
  Generator g(seed);
  Tensor images = randn({n, 3, 8, 8}, TensorOptions(), &g);
  std::vector<int64_t> classes;
  for (int64_t i = 0; i < n; ++i) classes.push_back(static_cast<int64_t>((seed * 7 + i * 3) % 10));
  return {images.to(device), from_vector(classes, {n}, TensorOptions(DType::Int64)).to(device)};
}

TEST(TrainStep, EagerStepIsForwardLossBackwardStep) {
  Trainee a(Device::cpu(), "sgd:lr=0.05,momentum=0.9"), b(Device::cpu(), "sgd:lr=0.05,momentum=0.9");
  TrainStepOptions options;
  options.label_smoothing = 0.1;
  TrainStep step(a.model, *a.optimizer, options);
  for (uint64_t t = 0; t < 2; ++t) {
    const Batch batch = random_batch(3, t, Device::cpu());
    const TrainStep::Result got = step.run(batch.images, batch.labels);
    EXPECT_FALSE(step.replayed_last());
    Tensor logits = b.model(batch.images);
    Tensor loss = cross_entropy(logits, batch.labels, 0.1);
    b.optimizer->zero_grad();
    loss.backward();
    b.optimizer->step();
    EXPECT_FALSE(got.loss.requires_grad());
    EXPECT_TRUE(testing::bit_equal(got.loss, loss.detach()));
    EXPECT_TRUE(testing::bit_equal(got.logits, logits.detach()));
  }
  EXPECT_TRUE(testing::bit_equal(a.flat->values(), b.flat->values()));
}

TEST(TrainStep, GraphModeNeedsAGpuModelAndACapturableOptimiser) {
  Trainee cpu(Device::cpu(), "sgd:lr=0.1,capturable=true");
  TrainStepOptions options;
  options.cuda_graph = true;
  EXPECT_THROW(TrainStep(cpu.model, *cpu.optimizer, options), UsageError);
  if (const char* reason = testing::gpu_skip_reason()) GTEST_SKIP() << "the CUDA half: " << reason;
  Trainee gpu(Device::cuda(), "sgd:lr=0.1");
  EXPECT_THROW(TrainStep(gpu.model, *gpu.optimizer, options), UsageError);
  Trainee capturable(Device::cuda(), "sgd:lr=0.1,capturable=true");
  options.warmup = 0;  // cuDNN would choose its algorithms inside the capture
  EXPECT_THROW(TrainStep(capturable.model, *capturable.optimizer, options), UsageError);
}

using TrainStepCuda = testing::GpuTest;

TEST_F(TrainStepCuda, ReplayedStepsTrainLikeEagerStepsAndOddBatchesRunEagerly) {
  const std::string spec = "sgd:lr=0.05,momentum=0.9,nesterov=true,weight_decay=5e-4,capturable=true";
  Trainee eager(Device::cuda(), spec), graphed(Device::cuda(), spec);
  TrainStepOptions options;
  options.label_smoothing = 0.1;
  TrainStep a(eager.model, *eager.optimizer, options);
  options.cuda_graph = true;
  options.warmup = 2;
  options.batch_size = 8;
  TrainStep b(graphed.model, *graphed.optimizer, options);
  // Warm-up counts only batches of batch_size (the 5 of the third call runs eagerly and does
  // not count), so the fourth call captures; the 5 of the sixth call runs eagerly.
  const int64_t sizes[] = {8, 8, 5, 8, 8, 5, 8, 8, 8};
  for (uint64_t t = 0; t < 9; ++t) {
    SCOPED_TRACE(t);
    if (t == 6) {  // a schedule between replays: the graph reads the new lr from the device
      eager.optimizer->set_lr(0.02);
      graphed.optimizer->set_lr(0.02);
    }
    const Batch batch = random_batch(sizes[t], 100 + t, Device::cuda());
    const TrainStep::Result want = a.run(batch.images, batch.labels);
    const TrainStep::Result got = b.run(batch.images, batch.labels);
    ASSERT_EQ(b.graph_failure(), "");
    EXPECT_EQ(b.replayed_last(), t >= 3 && sizes[t] == 8);
    EXPECT_ALL_CLOSE(got.loss, want.loss, 1e-4, 1e-3);
    EXPECT_ALL_CLOSE(got.logits, want.logits, 1e-4, 1e-3);
  }
  EXPECT_GT(b.graph_pool_bytes(), 0);
  EXPECT_EQ(graphed.optimizer->step_count(), 9);
  EXPECT_ALL_CLOSE(graphed.flat->values(), eager.flat->values(), 1e-4, 1e-3);
  const auto want_buffers = eager.model.named_buffers(), got_buffers = graphed.model.named_buffers();
  for (size_t i = 0; i < want_buffers.size(); ++i) {
    SCOPED_TRACE(want_buffers[i].first);
    EXPECT_ALL_CLOSE(got_buffers[i].second, want_buffers[i].second, 1e-4, 1e-3);  // BN running stats, counts
  }
}

}  // namespace
}  // namespace ember
