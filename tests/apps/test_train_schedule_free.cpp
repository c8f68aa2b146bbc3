// ember-train with the Schedule-Free optimisers (apps/ember-train/schedule_free.h): the guard
// that puts the parameters at x for evaluations and checkpoints, the batch-norm statistics
// recomputed there, and the one warning for an lr schedule. (Exact resume:
// test_train_resume.cpp's TrainResume.ScheduleFree*.)
#include <filesystem>

#include <gtest/gtest.h>

#include "apps/ember-train/schedule_free.h"
#include "core/ops.h"
#include "data/source.h"
#include "nn/resnet.h"
#include "tests/apps/train_helpers.h"
#include "tests/support/compare.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;
using ember::testing::bit_equal;

struct TwoTensors {
  Tensor a = from_vector(std::vector<float>{0.5f, -1.0f, 2.0f}, {3});
  Tensor b = from_vector(std::vector<float>{1.5f, 0.25f}, {2});
  optim::FlatParameters flat;
  std::unique_ptr<optim::Optimizer> opt;
  explicit TwoTensors(const std::string& spec) : flat(named(), Device::cpu()), opt(optim::make_optimizer(spec, flat)) {
    for (int t = 0; t < 4; ++t) {
      const std::vector<float> g = {0.3f, -0.2f + 0.1f * float(t), 0.05f, -0.4f, 0.1f * float(t)};
      copy_from_host(a.grad(), g.data(), 3 * sizeof(float));
      copy_from_host(b.grad(), g.data() + 3, 2 * sizeof(float));
      opt->step();
    }
  }
  std::vector<std::pair<std::string, Tensor>> named() {
    a.set_requires_grad(true);
    b.set_requires_grad(true);
    return {{"a", a}, {"b", b}};
  }
};

TEST(TrainScheduleFree, AtAverageHoldsXForItsLifetimeAndNothingForOthers) {
  TwoTensors s("sfsgd:lr=0.1"), reference("sfsgd:lr=0.1");
  const Tensor y = s.flat.values().clone();
  reference.opt->eval();  // x, as Optimizer::eval computes it
  {
    const AtAverage at_x(*s.opt);
    EXPECT_TRUE(at_x.active());
    EXPECT_FALSE(s.opt->train_mode());
    EXPECT_TRUE(bit_equal(s.flat.values(), reference.flat.values()));
    const AtAverage nested(*s.opt);  // already at x: inactive, does not move back early
    EXPECT_FALSE(nested.active());
  }
  EXPECT_TRUE(s.opt->train_mode());
  EXPECT_TRUE(bit_equal(s.flat.values(), y));  // back at exactly y

  TwoTensors adam("adam:lr=0.1");
  const Tensor before = adam.flat.values().clone();
  const AtAverage none(*adam.opt);
  EXPECT_FALSE(none.active());
  EXPECT_TRUE(bit_equal(adam.flat.values(), before));
}

TEST(TrainScheduleFree, BatchNormIsRecomputedOnTheEpochsFirstBatches) {
  const data::DataSplits data = data::load_data("synthetic:64,16");
  data::LoaderOptions options;
  options.batch_size = 16;
  data::Loader loader(data.train, options);
  nn::ResNet18 model(10, nn::Stem::ImageNet);
  model.eval();
  const auto running_mean = [&] {
    for (const auto& [name, t] : model.named_buffers())
      if (name == "bn1.running_mean") return t.clone();
    return Tensor();
  };
  const Tensor initial = running_mean();
  ASSERT_TRUE(initial.defined());
  EXPECT_EQ(recompute_batch_norm(model, loader, 3, kBatchNormRecomputeBatches), 4);  // 64 images: all 4 batches
  EXPECT_TRUE(model.is_training());
  EXPECT_FALSE(bit_equal(running_mean(), initial));  // the statistics moved to the data's
  // The same batches from the same statistics give the same result (a resumed run's).
  nn::ResNet18 again(10, nn::Stem::ImageNet);
  nn::load_state_dict(again, model.state_dict());
  EXPECT_EQ(recompute_batch_norm(model, loader, 3, 2), 2);
  EXPECT_EQ(recompute_batch_norm(again, loader, 3, 2), 2);
  for (const auto& [name, t] : again.named_buffers()) {
    if (name != "bn1.running_mean") continue;
    EXPECT_TRUE(bit_equal(t, running_mean()));
  }
}

TEST(TrainScheduleFree, AnLrScheduleWarnsOnceAndTheRunStillTrains) {
  const fs::path out = fs::temp_directory_path() / ("ember-train-test-sf-warn-" + std::to_string(::getpid()));
  fs::remove_all(out);
  const std::string common = "--data synthetic:48,16 --epochs 1 --batch-size 16 --device cpu --quiet "
                             "--optimizer sfadamw:lr=0.01 --optimizer sfsgd:lr=0.05 --out " +
                             out.string();
  const testing::Command with = testing::run_binary(common + " --lr-schedule cosine");
  ASSERT_EQ(with.exit_code, 0) << with.err;
  const std::string warning = "is Schedule-Free and needs no lr schedule";
  const size_t first = with.err.find(warning);
  ASSERT_NE(first, std::string::npos) << with.err;
  EXPECT_EQ(with.err.find(warning, first + 1), std::string::npos) << "warned more than once:\n" << with.err;
  fs::remove_all(out);
  const testing::Command without = testing::run_binary(common);
  ASSERT_EQ(without.exit_code, 0) << without.err;
  EXPECT_EQ(without.err.find(warning), std::string::npos) << without.err;
  fs::remove_all(out);
}

}  // namespace
}  // namespace ember::train
