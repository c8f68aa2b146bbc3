// ember-train on a GPU, end to end on synthetic data (512 training and 256 test images, two
// epochs of 8 batches of 64, in-process through run_comparison):
//   - the fast path (--cuda-graph --precision bf16 --channels-last) against plain fp32 eager:
//     same seed, every logged training loss close, nothing diverged, cuda_graph "replayed";
//   - --cuda-graph alone with --deterministic against eager with --deterministic: the same
//     kernels on the same values (SGD's step scalars are the same on the host and the
//     device), so the histories are equal to the last bit;
//   - that deterministic graph run interrupted twice and resumed: equal to the uninterrupted
//     one to the last bit (README, "Reproducibility on a GPU").
//
// Tolerance of the fast path: bf16 rounds activations to 8 significant bits (2^-8 relative per
// layer, a few percent through ResNet-18's 20 layers), and the two trajectories drift apart
// step by step; over 16 SGD steps at lr 0.05 the logged losses (about 2.3 falling towards 1)
// stay within 0.25 + 10% of each other, while a broken kernel (wrong channel, unwritten
// output, a replay on stale inputs) moves the loss by O(1) or makes it NaN. The first point,
// before any training step has compounded, must be within 5%.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "apps/ember-train/config.h"
#include "apps/ember-train/run.h"
#include "tests/support/gpu_test.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;

using TrainCuda = testing::GpuTest;

TrainConfig short_gpu_run(const std::string& name) {
  TrainConfig c;
  c.data = "synthetic:512,256";
  c.arch = "resnet18";  // the ImageNet stem shrinks 32x32 inputs at once: fast
  c.epochs = 2;
  c.batch_size = 64;
  c.device = "cuda";
  c.optimizers = {"sgd:lr=0.05"};  // no comma: the CSV below splits naively
  c.log_every = 1;
  c.quiet = true;
  c.out = (fs::temp_directory_path() / ("ember-train-cuda-" + name)).string();
  fs::remove_all(c.out);
  return c;
}

struct Outcome {
  std::vector<double> losses;  // history.csv, one per logged batch
  std::string history;         // the whole file
  nlohmann::json run;          // summary.json's runs[0]
};

Outcome outcome(const TrainConfig& c) {
  Outcome o;
  std::ifstream history(fs::path(c.out) / "history.csv");
  std::string line;
  std::getline(history, line);  // header
  while (std::getline(history, line)) {
    o.history += line + "\n";
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string field; std::getline(ss, field, ',');) f.push_back(field);
    if (f.size() == 7) o.losses.push_back(std::stod(f[5]));
  }
  std::ifstream summary(fs::path(c.out) / "summary.json");
  o.run = nlohmann::json::parse(summary)["runs"][0];
  return o;
}

TEST_F(TrainCuda, TheFastPathTrainsLikeFp32Eager) {
  const TrainConfig plain = short_gpu_run("plain");
  TrainConfig fast = short_gpu_run("fast");
  fast.cuda_graph = true;
  fast.precision = "bf16";
  fast.channels_last = true;
  ASSERT_EQ(run_comparison(plain), 0);
  ASSERT_EQ(run_comparison(fast), 0);
  const Outcome a = outcome(plain), b = outcome(fast);
  EXPECT_EQ(b.run["cuda_graph"], "replayed");
  EXPECT_FALSE(a.run["diverged"].get<bool>());
  EXPECT_FALSE(b.run["diverged"].get<bool>());
  ASSERT_EQ(a.losses.size(), 16u);
  ASSERT_EQ(b.losses.size(), a.losses.size());
  EXPECT_NEAR(b.losses[0], a.losses[0], 0.05 * a.losses[0]);
  for (size_t i = 0; i < a.losses.size(); ++i)
    EXPECT_TRUE(std::fabs(b.losses[i] - a.losses[i]) <= 0.25 + 0.1 * a.losses[i])
        << "point " << i << ": bf16 graph " << b.losses[i] << ", fp32 eager " << a.losses[i];
  fs::remove_all(plain.out);
  fs::remove_all(fast.out);
}

TEST_F(TrainCuda, DeterministicGraphRunsEqualEagerOnesAndResumeExactly) {
  TrainConfig eager = short_gpu_run("det-eager");
  eager.deterministic = true;
  TrainConfig graphed = short_gpu_run("det-graph");
  graphed.deterministic = true;
  graphed.cuda_graph = true;
  ASSERT_EQ(run_comparison(eager), 0);
  ASSERT_EQ(run_comparison(graphed), 0);
  const Outcome a = outcome(eager), b = outcome(graphed);
  EXPECT_EQ(b.run["cuda_graph"], "replayed");
  EXPECT_EQ(b.history, a.history);

  TrainConfig split = short_gpu_run("det-split");
  split.deterministic = true;
  split.cuda_graph = true;
  stop_after_steps(5);  // after the capture, inside the first epoch
  ASSERT_EQ(run_comparison(split), 130);
  TrainConfig again;
  again.resume = split.out;
  again.quiet = true;
  stop_after_steps(4);  // inside the second epoch: the resumed run warms up and captures again
  ASSERT_EQ(run_comparison(again), 130);
  stop_after_steps(0);
  ASSERT_EQ(run_comparison(again), 0);
  EXPECT_EQ(outcome(split).history, b.history);
  for (const TrainConfig* c : {&eager, &graphed, &split}) fs::remove_all(c->out);
}

}  // namespace
}  // namespace ember::train
