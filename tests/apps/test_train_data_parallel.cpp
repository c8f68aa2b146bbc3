// ember-train --data-parallel and --zero1 on two ranks (mpirun -np 2, one thread each; Note
// [data-parallel ember-train]): the logged loss is the global batch's, ZeRO-1 is bit-identical
// to plain data parallelism, training learns, a checkpoint resumes with the rank count
// changed, and the usage errors. Skips, saying why, without MPI.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/dist/communicator.h"
#include "tests/apps/train_helpers.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;
using namespace testing;

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

fs::path scratch(const std::string& name) {
  const fs::path base = fs::temp_directory_path() / ("ember-train-dp-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(base);
  return base;
}

// 96 synthetic images, batch 16, 2 epochs, a history row per step.
std::string learn_args(const fs::path& out) {
  return "--data synthetic:96,32 --arch resnet18 --epochs 2 --batch-size 16 --device cpu --log-every 1 --quiet "
         "--threads 1 --optimizer adam:lr=0.002 --out " +
         out.string();
}

// With lr 0 the weights never change, so the loss a data-parallel step logs for a batch of 16
// on two ranks is the mean of the losses one process logs for its two halves as batches of 8
// (the loader cuts the same shuffled order either way; each half is normalised by its own
// batch statistics in both). Checks the rows each rank takes, the loss weighting and the
// all-reduce of the figures. Tolerance: float32 losses summed in another order, 1e-6 relative.
TEST(TrainDataParallel, LoggedLossIsTheGlobalBatchMean) {
  if (!dist::mpi_built()) GTEST_SKIP() << "this build has no MPI (EMBER_MPI=OFF or none found)";
  const fs::path base = scratch("mean");
  const std::string common = "--data synthetic:64,16 --arch resnet18 --epochs 1 --device cpu --log-every 1 --quiet "
                             "--threads 1 --optimizer sgd:lr=0 ";
  const Command halves = run_binary(common + "--batch-size 8 --out " + (base / "one").string());
  ASSERT_EQ(halves.exit_code, 0) << halves.err;
  const Command two = run_on_ranks(2, common + "--batch-size 16 --data-parallel --out " + (base / "two").string());
  ASSERT_EQ(two.exit_code, 0) << two.out << two.err;
  for (int column : {5, 6}) {
    SCOPED_TRACE(column == 5 ? "loss" : "accuracy");
    const std::vector<double> one = history_column(base / "one", column), global = history_column(base / "two", column);
    ASSERT_EQ(one.size(), 8u);
    ASSERT_EQ(global.size(), 4u);
    for (size_t k = 0; k < global.size(); ++k) {
      const double expected = (one[2 * k] + one[2 * k + 1]) / 2;
      EXPECT_TRUE(std::abs(global[k] - expected) <= 1e-6 * std::abs(expected)) << k << ": " << global[k] << " vs "
                                                                               << expected;
    }
  }
  fs::remove_all(base);
}

// Plain data parallelism and ZeRO-1 write the same rows bit for bit (two ranks: sums of two
// floats), the loss falls, and only rank 0 wrote (one set of files, no errors).
TEST(TrainDataParallel, LearnsAndZero1IsBitIdentical) {
  if (!dist::mpi_built()) GTEST_SKIP() << "this build has no MPI (EMBER_MPI=OFF or none found)";
  const fs::path base = scratch("zero1");
  const Command dp = run_on_ranks(2, learn_args(base / "dp") + " --data-parallel");
  ASSERT_EQ(dp.exit_code, 0) << dp.out << dp.err;
  const Command zero1 = run_on_ranks(2, learn_args(base / "zero1") + " --data-parallel --zero1");
  ASSERT_EQ(zero1.exit_code, 0) << zero1.out << zero1.err;
  EXPECT_EQ(deterministic_part(base / "zero1"), deterministic_part(base / "dp"));
  const std::vector<double> loss = history_column(base / "dp", 5);
  ASSERT_EQ(loss.size(), 12u);  // 6 steps per epoch
  double first = 0, last = 0;
  for (int k = 0; k < 6; ++k) {
    first += loss[k] / 6;
    last += loss[6 + k] / 6;
  }
  EXPECT_LT(last, first) << "the second epoch's mean loss did not fall below the first's";
  for (const char* file : {"history.csv", "epochs.csv", "summary.json", "checkpoint.safetensors"})
    EXPECT_TRUE(fs::exists(base / "dp" / file)) << file;
  fs::remove_all(base);
}

// The optimisers evaluated away from the training point, under ZeRO-1: Schedule-Free at x
// (each shard moved, x gathered, batch-norm statistics recomputed on each rank's rows and rank
// 0's broadcast) and ASGD at its averages (each shard swapped, gathered). Both runs of each
// write the rows plain data parallelism writes, bit for bit, with finite test figures.
TEST(TrainDataParallel, Zero1EvaluatesAtTheAverageAsDataParallel) {
  if (!dist::mpi_built()) GTEST_SKIP() << "this build has no MPI (EMBER_MPI=OFF or none found)";
  const fs::path base = scratch("average");
  const std::string args = "--data synthetic:48,16 --arch resnet18 --epochs 2 --batch-size 16 --device cpu "
                           "--log-every 1 --threads 1 --optimizer sfadamw:lr=0.005,warmup_steps=2 "
                           "--optimizer asgd:lr=0.01,t0=1 --data-parallel --out ";
  const Command dp = run_on_ranks(2, args + (base / "dp").string());
  ASSERT_EQ(dp.exit_code, 0) << dp.out << dp.err;
  const Command zero1 = run_on_ranks(2, args + (base / "zero1").string() + " --zero1");
  ASSERT_EQ(zero1.exit_code, 0) << zero1.out << zero1.err;
  EXPECT_EQ(deterministic_part(base / "zero1"), deterministic_part(base / "dp"));
  // Rank 0 alone prints progress, once, under a header that names the ranks; rank 1 has no
  // warnings or errors to print.
  EXPECT_EQ(occurrences(zero1.out, "data parallel over 2 ranks (MPI), ZeRO-1 (optimiser state 1/2 per rank)"), 1)
      << zero1.out;
  EXPECT_EQ(occurrences(zero1.out, "== [1/2] sfadamw"), 1) << zero1.out;
  EXPECT_EQ(occurrences(zero1.out, "== [2/2] asgd"), 1) << zero1.out;
  EXPECT_EQ(zero1.err.find("[rank 1]"), std::string::npos) << zero1.err;
  const std::string epochs = slurp(base / "dp" / "epochs.csv");
  EXPECT_NE(epochs.find("sfadamw"), std::string::npos) << epochs;
  EXPECT_NE(epochs.find("asgd"), std::string::npos) << epochs;
  EXPECT_EQ(epochs.find("nan"), std::string::npos) << epochs;
  fs::remove_all(base);
}

// Stopped after 8 of 12 steps (inside epoch 2), on two ranks with ZeRO-1, and resumed by one
// process; stopped in one process and resumed on two ranks with ZeRO-1. Each run finishes with
// every row, and the rows before the stop are the uninterrupted run's exactly (the checkpoint
// holds the gathered optimiser state and the global batch position).
TEST(TrainDataParallel, ResumesWithTheRankCountChanged) {
  if (!dist::mpi_built()) GTEST_SKIP() << "this build has no MPI (EMBER_MPI=OFF or none found)";
  const fs::path base = scratch("resume");
  const Command whole = run_on_ranks(2, learn_args(base / "whole") + " --data-parallel --zero1");
  ASSERT_EQ(whole.exit_code, 0) << whole.out << whole.err;
  const std::vector<double> reference = history_column(base / "whole", 5);

  const Command stopped = run_on_ranks(2, learn_args(base / "a") + " --data-parallel --zero1 --stop-after-steps 8");
  ASSERT_EQ(stopped.exit_code, 130) << stopped.out << stopped.err;
  const Command resumed = run_binary("--resume " + (base / "a").string() + " --quiet --threads 1");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  std::vector<double> loss = history_column(base / "a", 5);
  ASSERT_EQ(loss.size(), reference.size());
  for (size_t k = 0; k < 8; ++k) EXPECT_EQ(loss[k], reference[k]) << k;
  for (double l : loss) EXPECT_TRUE(std::isfinite(l));

  const Command alone = run_binary(learn_args(base / "b") + " --stop-after-steps 8");
  ASSERT_EQ(alone.exit_code, 130) << alone.err;
  const Command on_two = run_on_ranks(2, "--resume " + (base / "b").string() + " --quiet --threads 1 --data-parallel --zero1");
  ASSERT_EQ(on_two.exit_code, 0) << on_two.out << on_two.err;
  loss = history_column(base / "b", 5);
  ASSERT_EQ(loss.size(), reference.size());
  for (double l : loss) EXPECT_TRUE(std::isfinite(l));
  fs::remove_all(base);
}

// One line, exit 2: --zero1 alone, --data-parallel without a launcher or with --workload, an
// optimiser ZeRO-1 cannot shard (on every rank) and --workload on two ranks.
TEST(TrainDataParallel, UsageErrors) {
  const fs::path base = scratch("errors");
  const std::string args = "--data synthetic:32,16 --epochs 1 --batch-size 16 --device cpu --quiet --out " +
                           (base / "x").string();
  const Command zero1 = run_binary(args + " --zero1");
  EXPECT_EQ(zero1.exit_code, 2) << zero1.err;
  EXPECT_NE(zero1.err.find("--zero1 needs --data-parallel"), std::string::npos) << zero1.err;
  const Command alone = run_binary(args + " --data-parallel");
  EXPECT_EQ(alone.exit_code, 2) << alone.err;
  EXPECT_NE(alone.err.find(dist::mpi_built() ? "needs a launcher" : "needs a build with MPI"), std::string::npos)
      << alone.err;
  const Command workload = run_binary(args + " --data-parallel --workload synthetic");
  EXPECT_EQ(workload.exit_code, 2) << workload.err;
  EXPECT_NE(workload.err.find("--data-parallel does not combine with --workload"), std::string::npos) << workload.err;
  if (dist::mpi_built()) {
    // Each rank says it, rank 1's line prefixed with its rank.
    const Command adafactor =
        run_on_ranks(2, args + " --threads 1 --data-parallel --zero1 --optimizer adafactor:lr=0.01");
    EXPECT_NE(adafactor.exit_code, 0);
    EXPECT_EQ(occurrences(adafactor.err, "[rank 1] ember-train: "), 1)
        << adafactor.err;
    EXPECT_EQ(occurrences(adafactor.err, "a sharded optimizer (ZeRO-1)"), 2) << adafactor.err;
    const Command workloads = run_on_ranks(2, args + " --threads 1 --workload synthetic --workload rosenbrock");
    EXPECT_NE(workloads.exit_code, 0);
    EXPECT_NE(workloads.err.find("--workload runs in one process"), std::string::npos) << workloads.err;
  }
  fs::remove_all(base);
}

}  // namespace
}  // namespace ember::train
