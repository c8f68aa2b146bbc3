// A data-parallel ember-train job that loses a rank (SIGKILL, as a crashed or killed node:
// the hidden test aid --kill-after-steps) stops as a whole within a bounded time with a
// non-zero exit, and the last checkpoint rank 0 wrote (atomically, at the end of epoch 1)
// loads and continues on one process and on two ranks. Skips, saying why, without MPI.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "apps/ember-train/checkpoint.h"
#include "core/dist/communicator.h"
#include "tests/apps/train_helpers.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;
using namespace testing;

// Generous for two ranks of ResNet-18 on 2 shared cores; a job that hangs on its lost rank
// (a collective that never completes) is stopped by `timeout` (exit 124) instead.
constexpr int kStopWithinSeconds = 60;

void expect_finishes_every_step(const fs::path& out) {
  const std::vector<double> loss = history_column(out, 5);
  EXPECT_EQ(loss.size(), 12u) << out;  // 2 epochs of 6 steps, one row each
  for (double l : loss) EXPECT_TRUE(std::isfinite(l)) << out;
}

TEST(TrainKilledRank, TheJobStopsAndItsLastCheckpointResumes) {
  if (!dist::mpi_built()) GTEST_SKIP() << "this build has no MPI (EMBER_MPI=OFF or none found)";
  const fs::path base = fs::temp_directory_path() / ("ember-train-killed-" + std::to_string(::getpid()));
  fs::remove_all(base);
  const fs::path killed = base / "killed", on_two = base / "on-two";
  // 96 images in batches of 16: 6 steps per epoch; rank 1 dies after step 9, inside epoch 2.
  const std::string args = "--data synthetic:96,32 --arch resnet18 --epochs 2 --batch-size 16 --device cpu "
                           "--log-every 1 --quiet --threads 1 --optimizer adam:lr=0.002 --data-parallel --zero1 "
                           "--kill-after-steps 1 9 --out " + killed.string();
  const auto start = std::chrono::steady_clock::now();
  const Command run = run_on_ranks(2, args, kStopWithinSeconds);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_NE(run.exit_code, 124) << "the job went on for " << kStopWithinSeconds << " s without its rank 1\n" << run.err;
  ASSERT_NE(run.exit_code, 0) << run.out << run.err;
  std::printf("the job stopped %.1f s after its start, exit %d\n", seconds, run.exit_code);

  // The checkpoint of the end of epoch 1, whole, with the run's model and optimiser state.
  const LoadedCheckpoint checkpoint = load_run_checkpoint(checkpoint_path(killed.string()));
  EXPECT_TRUE(checkpoint.has_training_state());
  EXPECT_EQ(checkpoint.state.progress.epoch, 1);
  EXPECT_EQ(checkpoint.state.progress.batch, 0);
  EXPECT_EQ(checkpoint.state.progress.step, 6);
  fs::copy(killed, on_two, fs::copy_options::recursive);

  const Command alone = run_binary("--resume " + killed.string() + " --quiet --threads 1");
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  expect_finishes_every_step(killed);
  const Command two = run_on_ranks(2, "--resume " + on_two.string() + " --quiet --threads 1 --data-parallel --zero1");
  ASSERT_EQ(two.exit_code, 0) << two.out << two.err;
  expect_finishes_every_step(on_two);
  fs::remove_all(base);
}

}  // namespace
}  // namespace ember::train
