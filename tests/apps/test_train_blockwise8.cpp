// adam8bit against adam in ember-train on the real CIFAR-10 slice (issue 17: "trajectories
// within a stated bound of the 32-bit optimiser ... on the CIFAR-10 slice"): the same seed,
// model, data and batches, 3 epochs over 128 images (24 steps of batch 16, ResNet-18 with
// the torchvision stem, the cheapest model ember-train has): 21 s on two cores, 59 s under
// ASan (measured on a shared machine). Skipped where the slice is absent. The per-step rule
// is tested in tests/optim/test_blockwise8.cpp, the trajectories on ember-paths' functions in
// tests/optim/test_blockwise8_vs_32bit.cpp.
#include <cmath>
#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "apps/ember-train/run.h"
#include "tests/apps/train_helpers.h"
#include "tests/support/cifar10_mini.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;
using namespace testing;

// One column of a CSV file of the run (first field: the optimizer spec, free of commas here),
// per optimizer.
std::map<std::string, std::vector<double>> column_by_optimizer(const fs::path& file, int column) {
  std::map<std::string, std::vector<double>> values;
  const std::vector<std::string> lines = read_lines(file);
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> f = split_csv_simple(lines[i]);
    values[f.at(0)].push_back(std::stod(f.at(column)));
  }
  return values;
}

// The bound. Step 1 computes the loss at the same weights on the same batch in both runs, so
// the first logged losses are equal; from then on each 8-bit step differs from the 32-bit one
// by a few percent (the signed map's spacing is 1.4% of a block's absmax; Adam's per-element
// normalisation raises that for elements small in their block: Note [8-bit vs 32-bit bound]
// in tests/optim/test_blockwise8_vs_32bit.cpp), so the curves move apart by a few percent of
// how far they have come. Batch losses of 16 images are noisy (the same weights give losses
// 0.2 apart from one batch to the next), so the curves compared are the epochs' mean training
// losses (epochs.csv): |8-bit - 32-bit| <= 0.1 + 0.15 * (32-bit fall since epoch 1). Measured
// (lr 1e-3, this configuration through `ember-train --seed S` for seeds 0-5, at 9308f06):
// gaps of 0.004-0.065 at epoch 1, 0.005-0.118 at epoch 2 and 0.0-0.226 at epoch 3, while the
// losses fall from 2.45-2.71 to 0.61-0.99 (bounds 0.1, 0.22-0.29, 0.33-0.40). The first bound
// was 0.05 + 0.1 * fall, set from one seed's 0.018, 0.024, 0.046: changes to the batch norm's
// summation order moved this seed's epoch-1 gap to 0.054, and seeds 1 and 2 sat at 0.065 and
// 0.050 - the divergence of two chaotic runs, not an 8-bit error. An 8-bit state that fails to
// learn (a lost state, a wrong absmax) stays near 2.3 and exceeds the bound by a loss of 1 or
// more by epoch 3.
TEST(TrainBlockwise8, Adam8bitFollowsAdamOnTheCifar10Slice) {
  const std::string dir = ember::testing::cifar10_mini_dir();
  if (dir.empty())
    GTEST_SKIP() << "the real CIFAR-10 slice is absent (EMBER_CIFAR10_MINI, or ../shared/data/cifar10-mini next to "
                    "the repository)";
  TrainConfig c = tiny("adam8bit-cifar");
  c.data = dir;
  c.limit_train = 128;
  c.limit_test = 32;
  c.epochs = 3;
  c.optimizers = {"adam:lr=0.001", "adam8bit:lr=0.001"};
  ASSERT_EQ(run_comparison(c), 0);

  const fs::path out(c.out);
  auto steps = column_by_optimizer(out / "history.csv", 5);
  const std::vector<double>&step32 = steps["adam:lr=0.001"], &step8 = steps["adam8bit:lr=0.001"];
  ASSERT_EQ(step32.size(), 24u);
  ASSERT_EQ(step8.size(), 24u);
  EXPECT_EQ(step8[0], step32[0]);  // the same weights and batch
  EXPECT_NE(step8, step32) << "the 8-bit run is the 32-bit one";

  auto epochs = column_by_optimizer(out / "epochs.csv", 3);
  const std::vector<double>&loss32 = epochs["adam:lr=0.001"], &loss8 = epochs["adam8bit:lr=0.001"];
  ASSERT_EQ(loss32.size(), 3u);
  ASSERT_EQ(loss8.size(), 3u);
  for (size_t e = 0; e < loss32.size(); ++e) {
    const double bound = 0.1 + 0.15 * (loss32[0] - loss32[e]);
    EXPECT_TRUE(std::fabs(loss8[e] - loss32[e]) <= bound)
        << "epoch " << e + 1 << ": adam8bit " << loss8[e] << ", adam " << loss32[e] << ", bound " << bound;
  }
  // Both learn: the last epoch's mean loss under 60% of the first's (measured 30% and 28%).
  EXPECT_LT(loss32.back(), 0.6 * loss32.front());
  EXPECT_LT(loss8.back(), 0.6 * loss8.front());
  fs::remove_all(out);
}

}  // namespace
}  // namespace ember::train
