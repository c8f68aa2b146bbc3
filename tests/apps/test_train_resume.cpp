// ember-train's --resume: a run interrupted and resumed - twice, across runs; with an lr
// schedule and warm-up, with augmentation, in bf16 on the CPU, or with a Schedule-Free
// optimiser (checkpoints at x, training at y) - ends bit for bit where an
// uninterrupted run ends; a truncated or corrupt checkpoint is refused with one line and exit
// 1, and the run folder stays as it was. (On a GPU: test_train_cuda.cpp.)
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include <gtest/gtest.h>

#include "apps/ember-train/checkpoint.h"
#include "apps/ember-train/run.h"
#include "nn/safetensors.h"
#include "tests/apps/train_helpers.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;
using namespace testing;

// Two epochs of 3 batches, a point every 2 batches: a stop after step 4 falls inside epoch 2
// with a log window half full, the hardest place to continue from exactly.
TrainConfig small(const std::string& name) {
  TrainConfig c = tiny("resume-" + name);
  c.data = "synthetic:48,16";
  c.log_every = 2;
  c.optimizers = {"adam:lr=0.002"};
  c.save_models = true;
  return c;
}

// Every tensor of the final model, bit for bit.
void expect_same_model(const fs::path& a, const fs::path& b) {
  const auto x = nn::load_safetensors((a / "model-1.safetensors").string());
  const auto y = nn::load_safetensors((b / "model-1.safetensors").string());
  ASSERT_EQ(x.tensors.size(), y.tensors.size());
  std::vector<std::string> differ;
  for (const auto& [name, t] : x.tensors) {
    const Tensor* other = y.find(name);
    ASSERT_NE(other, nullptr) << name;
    if (t.to_vector<float>() != other->to_vector<float>()) differ.push_back(name);
  }
  EXPECT_TRUE(differ.empty()) << differ.size() << " of " << x.tensors.size() << " tensors differ, the first "
                              << differ.front();
}

void expect_resume_is_exact(const TrainConfig& config) {
  TrainConfig whole = config;
  whole.out += "-whole";
  fs::remove_all(whole.out);
  ASSERT_EQ(run_comparison(whole), 0);
  stop_after_steps(4);
  ASSERT_EQ(run_comparison(config), 130);
  stop_after_steps(0);
  TrainConfig again;
  again.resume = config.out;
  again.quiet = true;
  ASSERT_EQ(run_comparison(again), 0);
  EXPECT_EQ(deterministic_part(config.out), deterministic_part(whole.out));
  expect_same_model(config.out, whole.out);
  fs::remove_all(whole.out);
  fs::remove_all(config.out);
}

// Two optimisers (names without commas, for the simple CSV split), interrupted twice: inside
// the first run's second epoch, then inside the second run's first.
TEST(TrainResume, TwiceInterruptedEqualsAnUninterruptedRun) {
  const std::vector<std::string> optimizers = {"sgd:lr=0.05", "adam:lr=0.001"};
  TrainConfig whole = tiny("whole");
  whole.optimizers = optimizers;
  ASSERT_EQ(run_comparison(whole), 0);

  TrainConfig split = tiny("split");
  split.optimizers = optimizers;
  stop_after_steps(9);  // inside the first optimiser's second epoch
  ASSERT_EQ(run_comparison(split), 130);
  ASSERT_TRUE(fs::exists(fs::path(split.out) / "checkpoint.safetensors"));
  TrainConfig again;
  again.resume = split.out;
  again.quiet = true;
  stop_after_steps(6);  // and once more, inside the second optimiser's first epoch
  ASSERT_EQ(run_comparison(again), 130);
  stop_after_steps(0);
  ASSERT_EQ(run_comparison(again), 0);
  EXPECT_EQ(deterministic_part(split.out), deterministic_part(whole.out));
  fs::remove_all(whole.out);
  fs::remove_all(split.out);
}

TEST(TrainResume, WithACosineScheduleAndWarmUpIsExact) {
  TrainConfig c = small("cosine");
  c.lr_schedule = "cosine";
  c.warmup_epochs = 0.5;  // 2 steps: the stop comes in the cosine part
  expect_resume_is_exact(c);
}

TEST(TrainResume, WithOneCycleIsExact) {
  TrainConfig c = small("onecycle");
  c.lr_schedule = "onecycle";
  expect_resume_is_exact(c);
}

// Schedule-Free trains at y and checkpoints at x (with batch norm recomputed at x before each
// evaluation): the resumed run goes back to y exactly as the uninterrupted one does after
// saving, so both end with the same bits.
TEST(TrainResume, ScheduleFreeAdamWIsExact) {
  TrainConfig c = small("sfadamw");
  c.optimizers = {"sfadamw:lr=0.005"};
  expect_resume_is_exact(c);
}

TEST(TrainResume, ScheduleFreeSgdIsExact) {
  TrainConfig c = small("sfsgd");
  c.optimizers = {"sfsgd:lr=0.05"};
  expect_resume_is_exact(c);
}

TEST(TrainResume, WithAugmentationIsExact) {
  TrainConfig c = small("augment");
  c.augment = "standard";
  expect_resume_is_exact(c);
}

TEST(TrainResume, InBf16OnTheCpuIsExact) {
  TrainConfig c = small("bf16");
  c.precision = "bf16";
  expect_resume_is_exact(c);
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::map<std::string, std::string> folder_bytes(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) files[entry.path().filename().string()] = read_bytes(entry.path());
  return files;
}

// The checkpoint's tensors and metadata written back with `change` applied.
void rewrite(const std::string& path, const nn::SafetensorsContents& good,
             const std::function<void(nn::SafetensorsContents&)>& change) {
  nn::SafetensorsContents c = good;
  change(c);
  nn::save_safetensors(path, c.tensors, c.metadata);
}

TEST(TrainResume, ABadCheckpointIsRefusedAndTheFolderStaysAsItWas) {
  const TrainConfig c = small("corrupt");
  stop_after_steps(4);
  ASSERT_EQ(run_comparison(c), 130);
  stop_after_steps(0);
  const std::string path = checkpoint_path(c.out);
  const std::string good = read_bytes(path);
  const nn::SafetensorsContents contents = nn::load_safetensors(path);
  struct Bad {
    std::string what, says;
    std::function<void()> make;
  };
  auto write = [&](const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; };
  const std::vector<Bad> cases = {
      {"truncated to half", path, [&] { write(good.substr(0, good.size() / 2)); }},
      {"truncated to 100 bytes", path, [&] { write(good.substr(0, 100)); }},
      {"header overwritten", "not valid JSON", [&] { write(good.substr(0, 8) + std::string(40, '\xff') +
                                                              good.substr(48)); }},
      {"run state not JSON", "the run state is not valid JSON",
       [&] { rewrite(path, contents, [](auto& k) { k.metadata["run_state"] = "{\"config\": \n\x01"; }); }},
      {"run state incomplete", "run state: config: missing",
       [&] { rewrite(path, contents, [](auto& k) { k.metadata["run_state"] = "{\"history\": []}"; }); }},
      {"an older format", "expected ember-train-checkpoint-2",
       [&] { rewrite(path, contents, [](auto& k) { k.metadata["format"] = "ember-train-checkpoint-1"; }); }},
      {"a model tensor missing", "checkpoint has no model.fc.bias", [&] {
         rewrite(path, contents, [](auto& k) {
           k.tensors.erase(std::find_if(k.tensors.begin(), k.tensors.end(),
                                        [](const auto& t) { return t.first == "model.fc.bias"; }));
         });
       }},
  };
  for (const Bad& bad : cases) {
    bad.make();
    const auto before = folder_bytes(c.out);
    const Command run = run_binary("--resume " + c.out);
    EXPECT_EQ(run.exit_code, 1) << bad.what << ": " << run.err;
    EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << bad.what << ": not one line: " << run.err;
    EXPECT_NE(run.err.find("ember-train: error: "), std::string::npos) << bad.what << ": " << run.err;
    EXPECT_NE(run.err.find(bad.says), std::string::npos) << bad.what << ": " << run.err;
    for (const char ch : run.err) EXPECT_TRUE(ch == '\n' || (ch >= 0x20 && ch < 0x7f)) << bad.what << ": " << run.err;
    EXPECT_EQ(folder_bytes(c.out), before) << bad.what << ": the run folder changed";
  }
  // The good checkpoint still continues.
  write(good);
  EXPECT_EQ(run_binary("--resume " + c.out + " --quiet").exit_code, 0);
  fs::remove_all(c.out);
}

}  // namespace
}  // namespace ember::train
