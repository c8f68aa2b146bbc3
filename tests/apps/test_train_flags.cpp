// The training flags end to end, each against a plain run from the same weights on the same
// batches: the lr schedules and warm-up change the learning rate from the step they should
// (seen in the loss of the batch after it), label smoothing changes the loss and nothing
// else, augmentation and normalisation change the batches.
//
// How the schedules are pinned: with plain SGD and a point per batch, history row k holds the
// loss of batch k under the weights after k-1 steps. Two runs whose first step uses the same
// lr agree bit for bit on rows 1 and 2; a different second lr makes row 3 differ. Every lr
// below is a power of two (or an exact multiple), so "the same lr" is exact in binary.
#include <filesystem>

#include <gtest/gtest.h>

#include "apps/ember-train/run.h"
#include "tests/apps/train_helpers.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;
using namespace testing;

// One epoch of 3 batches of 16 synthetic images, plain SGD at `spec`, a point per batch.
TrainConfig run_config(const std::string& name, const std::string& spec) {
  TrainConfig c = tiny("flags-" + name);
  c.data = "synthetic:48,16";
  c.epochs = 1;
  c.optimizers = {spec};
  return c;
}

struct Losses {
  std::vector<double> loss, accuracy;  // history.csv, one per batch
};

Losses train(const TrainConfig& c) {
  EXPECT_EQ(run_comparison(c), 0) << c.out;
  Losses l{history_column(c.out, 5), history_column(c.out, 6)};
  EXPECT_EQ(l.loss.size(), 3u) << c.out;
  fs::remove_all(c.out);
  return l;
}

// Rows 1 and 2 the same, row 3 not: the first step's lr equal, the second's different.
void expect_first_lr_equal_second_not(const Losses& a, const Losses& b, const char* what) {
  ASSERT_GE(a.loss.size(), 3u);
  ASSERT_GE(b.loss.size(), 3u);
  EXPECT_EQ(a.loss[0], b.loss[0]) << what;
  EXPECT_EQ(a.loss[1], b.loss[1]) << what << ": the first step's lr differs";
  EXPECT_NE(a.loss[2], b.loss[2]) << what << ": the second step's lr is the same";
}

// The plain run: constant lr 0.125, no smoothing, no augmentation.
Losses plain() { return train(run_config("plain", "sgd:lr=0.125")); }

TEST(TrainFlags, SchedulesAndWarmUpSetTheLrFromTheFirstStep) {
  const Losses reference = plain();
  TrainConfig warmup = run_config("warmup", "sgd:lr=0.25");
  warmup.warmup_epochs = 2.0 / 3;  // 2 of the 3 steps: lr 0.125, then 0.25
  expect_first_lr_equal_second_not(reference, train(warmup), "warm-up");
  TrainConfig cosine = run_config("cosine", "sgd:lr=0.125");
  cosine.lr_schedule = "cosine";  // step 0: 0.125; step 1: 0.125 (1 + cos(pi / 3)) / 2
  expect_first_lr_equal_second_not(reference, train(cosine), "cosine");
  TrainConfig onecycle = run_config("onecycle", "sgd:lr=3.125");
  onecycle.lr_schedule = "onecycle";
  onecycle.warmup_epochs = 2.0 / 3;  // the rising phase (pct_start): from 3.125 / 25 (div_factor) = 0.125 to 3.125
  expect_first_lr_equal_second_not(reference, train(onecycle), "onecycle");
}

TEST(TrainFlags, LabelSmoothingChangesTheLossAndNothingElse) {
  TrainConfig c = run_config("smoothing", "sgd:lr=0");  // lr 0: every batch sees the initial weights
  const Losses sharp = train(c);
  c = run_config("smoothing", "sgd:lr=0");
  c.label_smoothing = 0.25;
  const Losses smooth = train(c);
  ASSERT_EQ(sharp.loss.size(), smooth.loss.size());
  for (size_t k = 0; k < sharp.loss.size(); ++k) {
    EXPECT_NE(sharp.loss[k], smooth.loss[k]) << "batch " << k + 1;
    EXPECT_EQ(sharp.accuracy[k], smooth.accuracy[k]) << "batch " << k + 1 << ": the predictions changed";
  }
}

TEST(TrainFlags, AugmentationAndNormalisationChangeTheBatches) {
  const Losses reference = plain();
  // The first batch meets the initial weights in every run: its loss differs only when its
  // images do.
  TrainConfig augmented = run_config("augment", "sgd:lr=0.125");
  augmented.augment = "standard";
  const Losses first = train(augmented);
  EXPECT_NE(first.loss[0], reference.loss[0]) << "--augment standard left the batch as it was";
  EXPECT_EQ(train(augmented).loss, first.loss) << "augmentation must draw from the seed alone";
  TrainConfig normalised = run_config("normalize", "sgd:lr=0.125");
  normalised.normalize = "cifar";
  EXPECT_NE(train(normalised).loss[0], reference.loss[0]) << "--normalize cifar left the batch as it was";
}

}  // namespace
}  // namespace ember::train
