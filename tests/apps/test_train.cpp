// ember-train end to end on the CPU with synthetic data at tiny sizes: the files and their
// layout, falling losses, valid figures, divergence handling, resume equals an uninterrupted
// run, frozen backbones stay frozen, and the exit codes of bad input.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "apps/common/gnuplot.h"
#include "apps/ember-train/config.h"
#include "apps/ember-train/run.h"
#include "core/device.h"
#include "core/error.h"
#include "core/generator.h"
#include "nn/checkpoint.h"
#include "nn/resnet.h"
#include "nn/safetensors.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> split_csv_simple(const std::string& line) {  // no quoted fields in these tests
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string f; std::getline(ss, f, ',');) out.push_back(f);
  return out;
}

bool is_png(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in.gcount() == 8 && std::string(magic + 1, 3) == "PNG";
}

// A run small enough for CI (also under ASan): 96 synthetic images, batch 16, and the
// torchvision stem, which shrinks 32x32 inputs to 8x8 at once (16x cheaper than the CIFAR stem).
TrainConfig tiny(const std::string& name) {
  TrainConfig c;
  c.data = "synthetic:96,32";
  c.arch = "resnet18";
  c.epochs = 2;
  c.batch_size = 16;
  c.device = "cpu";
  c.log_every = 1;
  c.quiet = true;
  c.out = (fs::temp_directory_path() / ("ember-train-test-" + name)).string();
  fs::remove_all(c.out);
  return c;
}

// Optimisers whose names have no commas, so a naive CSV split works.
const std::vector<std::string> kOptimizers = {"sgd:lr=0.05", "adam:lr=0.001"};

TEST(Train, WritesEveryFileWithTheRightLayoutAndLossesFall) {
  TrainConfig c = tiny("files");
  // The seed's optimisers at their learning rates (SGD without momentum keeps the names free
  // of commas for the simple CSV split below).
  c.optimizers = {"sgd:lr=0.01", "adam:lr=0.001", "rmsprop:lr=0.001", "adagrad:lr=0.01"};
  c.epochs = 3;
  ASSERT_EQ(run_comparison(c), 0);
  const fs::path out(c.out);
  const auto history = read_lines(out / "history.csv");
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history[0], "optimizer,repeat,epoch,batch,images_seen,loss,accuracy");
  EXPECT_EQ(history.size(), 1u + 4 * 3 * 6);  // 4 optimisers x 3 epochs x 6 batches, log_every 1
  const auto epochs = read_lines(out / "epochs.csv");
  EXPECT_EQ(epochs[0],
            "optimizer,repeat,epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second");
  ASSERT_EQ(epochs.size(), 1u + 4 * 3);
  // Per-batch losses of 16 images are noisy; the epoch's mean training loss must fall.
  for (const std::string& spec : c.optimizers) {
    std::vector<double> losses;
    for (size_t i = 1; i < epochs.size(); ++i) {
      auto f = split_csv_simple(epochs[i]);
      if (f[0] == spec) losses.push_back(std::stod(f[3]));
    }
    ASSERT_EQ(losses.size(), 3u);
    EXPECT_LT(losses[2], losses[0]) << spec << ": training loss should fall";
  }
  std::ifstream in(out / "summary.json");
  const nlohmann::json s = nlohmann::json::parse(in);
  ASSERT_EQ(s["optimizers"].size(), 4u);
  EXPECT_EQ(s["config"]["batch_size"], 16);
  EXPECT_FALSE(s["ember_commit"].get<std::string>().empty());
  for (const auto& o : s["optimizers"]) {
    EXPECT_FALSE(o["diverged"].get<bool>());
    EXPECT_GE(o["final_test_accuracy"].get<double>(), 0.0);
    EXPECT_GT(o["images_per_second"].get<double>(), 0.0);
    EXPECT_GT(o["peak_device_memory_bytes"].get<int64_t>(), 0);
  }
  EXPECT_EQ(s["optimizers"][0]["optimizer_state_bytes"].get<int64_t>(), 0);  // plain SGD keeps no state
  // Adam keeps two values per parameter: parameters + gradients + state = 4x the parameters.
  EXPECT_NEAR(s["optimizers"][1]["memory_multiple_of_parameters"].get<double>(), 4.0, 0.01);
  if (apps::gnuplot_missing_reason().empty()) {
    EXPECT_TRUE(is_png(out / "training_metrics.png"));
    EXPECT_TRUE(is_png(out / "test_accuracy.png"));
  }
  fs::remove_all(out);
}

TEST(Train, DivergedOptimiserIsRecordedAndOthersStillRun) {
  TrainConfig c = tiny("diverge");
  c.optimizers = {"sgd:lr=1000000", "sgd:lr=0.01"};
  ASSERT_EQ(run_comparison(c), 0);
  std::ifstream in(fs::path(c.out) / "summary.json");
  const nlohmann::json s = nlohmann::json::parse(in);
  ASSERT_EQ(s["optimizers"].size(), 2u);
  EXPECT_TRUE(s["optimizers"][0]["diverged"].get<bool>());
  EXPECT_FALSE(s["optimizers"][0]["diverged_at"].is_null());
  EXPECT_FALSE(s["optimizers"][1]["diverged"].get<bool>());
  EXPECT_EQ(s["optimizers"][1]["epochs_done"], 2);
  fs::remove_all(c.out);
}

// The GPU speed flags on the CPU: bf16 mixed precision and channels_last train (losses stay
// finite), --cuda-graph falls back to eager steps with a warning; all are saved for --resume.
TEST(Train, MixedPrecisionChannelsLastAndGraphFlagsRunOnTheCpu) {
  TrainConfig c = tiny("bf16");
  c.optimizers = {"sgd:lr=0.05,momentum=0.9"};
  c.precision = "bf16";
  c.channels_last = true;
  c.cuda_graph = true;
  ASSERT_EQ(run_comparison(c), 0);
  std::ifstream in(fs::path(c.out) / "summary.json");
  const nlohmann::json s = nlohmann::json::parse(in);
  EXPECT_EQ(s["config"]["precision"], "bf16");
  EXPECT_TRUE(s["config"]["channels_last"].get<bool>());
  EXPECT_TRUE(s["config"]["cuda_graph"].get<bool>());
  EXPECT_FALSE(s["optimizers"][0]["diverged"].get<bool>());
  EXPECT_EQ(s["runs"][0]["cuda_graph"], "off");  // no GPU: never captured
  EXPECT_EQ(s["optimizers"][0]["epochs_done"], 2);
  fs::remove_all(c.out);
}

// history.csv and epochs.csv without the timing columns (seconds, images/s differ run to run).
std::string deterministic_part(const fs::path& out) {
  std::string text;
  for (const std::string& line : read_lines(out / "history.csv")) text += line + "\n";
  for (const std::string& line : read_lines(out / "epochs.csv")) {
    auto f = split_csv_simple(line);
    for (size_t i = 0; i < 7 && i < f.size(); ++i) text += f[i] + ",";
    text += "\n";
  }
  return text;
}

TEST(Train, ResumeAfterAnInterruptionEqualsAnUninterruptedRun) {
  TrainConfig whole = tiny("whole");
  whole.optimizers = kOptimizers;
  ASSERT_EQ(run_comparison(whole), 0);

  TrainConfig split = tiny("split");
  split.optimizers = kOptimizers;
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

TEST(Train, FrozenBackboneStaysBitIdentical) {
  TrainConfig c = tiny("freeze");
  c.optimizers = {"adam:lr=0.01"};
  c.freeze_backbone = true;
  c.save_models = true;
  ASSERT_EQ(run_comparison(c), 0);
  Generator g(c.seed);
  nn::ResNet18 initial(10, nn::Stem::ImageNet, &g);
  const auto trained = nn::load_safetensors((fs::path(c.out) / "model-1.safetensors").string());
  int compared = 0, fc_changed = 0;
  for (auto& [name, t] : initial.named_parameters()) {
    const Tensor* saved = trained.find(name);
    ASSERT_NE(saved, nullptr) << name;
    const bool same = saved->to_vector<float>() == t.to_vector<float>();
    if (name.rfind("fc.", 0) == 0) {
      fc_changed += !same;
    } else {
      EXPECT_TRUE(same) << name << " changed although the backbone is frozen";
      ++compared;
    }
  }
  EXPECT_EQ(compared, 60);  // every backbone parameter
  EXPECT_EQ(fc_changed, 2);  // fc.weight and fc.bias trained
  std::ifstream in(fs::path(c.out) / "summary.json");
  const nlohmann::json s = nlohmann::json::parse(in);
  EXPECT_EQ(s["optimizers"][0]["trainable_parameters"], 5130);  // 512 * 10 + 10
  // Adam's two state values per trainable (fc) parameter, plus alignment padding and scalars.
  const int64_t state = s["optimizers"][0]["optimizer_state_bytes"].get<int64_t>();
  EXPECT_GE(state, 2 * 4 * 5130);
  EXPECT_LE(state, 2 * 4 * 5130 + 1024);
  fs::remove_all(c.out);
}

nlohmann::json summary_of(const TrainConfig& c) {
  std::ifstream in(fs::path(c.out) / "summary.json");
  return nlohmann::json::parse(in);
}

TEST(Train, RepeatsGiveKRowsPerPointAndIdenticalSeedsGiveIdenticalResults) {
  TrainConfig c = tiny("repeats");
  c.optimizers = {"adam:lr=0.001"};
  c.epochs = 1;
  c.repeats = 2;
  ASSERT_EQ(run_comparison(c), 0);
  const auto history = read_lines(fs::path(c.out) / "history.csv");
  ASSERT_EQ(history.size(), 1u + 2 * 6);
  int repeat1 = 0;
  for (size_t i = 1; i < history.size(); ++i) repeat1 += split_csv_simple(history[i])[1] == "1";
  EXPECT_EQ(repeat1, 6);
  const nlohmann::json s = summary_of(c);
  EXPECT_EQ(s["runs"].size(), 2u);
  EXPECT_EQ(s["optimizers"].size(), 1u);
  EXPECT_EQ(s["optimizers"][0]["repeats"], 2);
  EXPECT_TRUE(s["optimizers"][0]["final_test_accuracy_std"].is_number());
  EXPECT_EQ(s["runs"][1]["seed"], 1);
  // The same configuration again: the same numbers.
  TrainConfig again = c;
  again.out = c.out + "-again";
  fs::remove_all(again.out);
  ASSERT_EQ(run_comparison(again), 0);
  EXPECT_EQ(deterministic_part(again.out), deterministic_part(c.out));
  fs::remove_all(c.out);
  fs::remove_all(again.out);
}

// ASGD's test evaluations run at its averaged parameters ax: averaging from the first step
// (t0=0) changes the test loss but not the training, which continues from the parameters
// themselves (a run averaging only after step 1e6, ax = the parameters, trains identically).
TEST(Train, AsgdEvaluatesAtItsAveragedParametersAndTrainsOnItsOwn) {
  const auto epoch_losses = [](const std::string& spec, const std::string& name) {
    TrainConfig c = tiny(name);
    c.optimizers = {spec};
    EXPECT_EQ(run_comparison(c), 0);
    std::vector<std::pair<std::string, std::string>> rows;  // (train_loss, test_loss) as written
    const auto lines = read_lines(fs::path(c.out) / "epochs.csv");
    for (size_t i = 1; i < lines.size(); ++i) {
      const auto f = split_csv_simple(lines[i]);  // the spec's comma splits it: count from the end
      rows.emplace_back(f[f.size() - 6], f[f.size() - 4]);
    }
    fs::remove_all(c.out);
    return rows;
  };
  const auto averaged = epoch_losses("asgd:lr=0.05,t0=0", "asgd-averaged");
  const auto plain = epoch_losses("asgd:lr=0.05,t0=1e6", "asgd-plain");
  ASSERT_EQ(averaged.size(), 2u);
  ASSERT_EQ(plain.size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(averaged[e].first, plain[e].first) << "epoch " << e + 1 << ": training must not see ax";
    EXPECT_NE(averaged[e].second, plain[e].second) << "epoch " << e + 1 << ": the test loss must be at ax";
  }
}

TEST(Train, SweepWritesTheFullGridAndNamesTheBestLr) {
  TrainConfig c = tiny("sweep");
  c.optimizers = {"sgd:momentum=0.9", "adam"};
  c.sweep = "lr=0.05,0.001";
  c.epochs = 1;
  c.target_accuracy = 0.01;
  ASSERT_EQ(run_comparison(c), 0);
  const auto sweep = read_lines(fs::path(c.out) / "sweep.csv");
  ASSERT_EQ(sweep.size(), 1u + 4);
  EXPECT_EQ(sweep[0], "optimizer,lr,repeat,final_test_accuracy,best_test_accuracy,diverged");
  EXPECT_EQ(sweep[1].rfind("sgd:momentum=0.9,0.05,0,", 0), 0u) << sweep[1];
  const nlohmann::json s = summary_of(c);
  EXPECT_EQ(s["optimizers"].size(), 4u);
  EXPECT_TRUE(s["best_lr"].contains("sgd:momentum=0.9"));
  EXPECT_TRUE(s["best_lr"].contains("adam"));
  // A 1% target is reached at the first evaluation: all the images of the epoch.
  EXPECT_EQ(s["runs"][0]["images_to_target"], 96);
  EXPECT_TRUE(s["runs"][0]["energy_source"].is_string());
  if (apps::gnuplot_missing_reason().empty()) {
    EXPECT_TRUE(is_png(fs::path(c.out) / "sweep.png"));
    EXPECT_TRUE(is_png(fs::path(c.out) / "energy.png"));
  }
  fs::remove_all(c.out);
}

TEST(Train, ShiftsChangeTheDataFromTheShiftEpochOn) {
  for (const char* shift : {"2:labels", "2:classes"}) {
    TrainConfig c = tiny(std::string("shift-") + shift[2]);
    c.optimizers = {"adam:lr=0.001"};
    c.shift = shift;
    ASSERT_EQ(run_comparison(c), 0) << shift;
    const nlohmann::json s = summary_of(c);
    const auto& o = s["optimizers"][0];
    EXPECT_TRUE(o["accuracy_before_shift"].is_number()) << shift;
    EXPECT_TRUE(o["accuracy_after_shift"].is_number()) << shift;
    EXPECT_TRUE(o.contains("images_to_recover"));
    const auto& epochs = s["runs"][0]["epochs"];
    ASSERT_EQ(epochs.size(), 2u);
    if (std::string(shift) == "2:classes") {
      EXPECT_TRUE(epochs[1]["test_accuracy_classes_5_9"].is_number());
      // Epoch 1 trains on the 50 images of classes 0-4 (synthetic image i has class i mod 10).
      EXPECT_EQ(epochs[0]["images_seen"], 50);
    }
    if (apps::gnuplot_missing_reason().empty()) {
      EXPECT_TRUE(is_png(fs::path(c.out) / "shift.png"));
    }
    fs::remove_all(c.out);
  }
}

TEST(Train, WeightsLoadByNameAndTheFrozenBackboneKeepsThem) {
  TrainConfig pre = tiny("pretrain");
  pre.optimizers = {"adam:lr=0.001"};
  pre.epochs = 1;
  pre.classes = "0-4";
  pre.save_models = true;
  ASSERT_EQ(run_comparison(pre), 0);
  const std::string weights = (fs::path(pre.out) / "model-1.safetensors").string();
  TrainConfig fine = tiny("finetune");
  fine.optimizers = {"sgd:lr=0.01,momentum=0.9"};
  fine.epochs = 1;
  fine.weights = weights;
  fine.reset_fc = true;
  fine.freeze_backbone = true;
  fine.save_models = true;
  ASSERT_EQ(run_comparison(fine), 0);
  const auto before = nn::load_safetensors(weights), after = nn::load_safetensors(fine.out + "/model-1.safetensors");
  for (const auto& [name, t] : before.tensors) {
    if (name.find("weight") == std::string::npos && name.find("bias") == std::string::npos) continue;  // BN stats move
    const Tensor* now = after.find(name);
    ASSERT_NE(now, nullptr) << name;
    if (name.rfind("fc.", 0) == 0) EXPECT_NE(now->to_vector<float>(), t.to_vector<float>()) << name;
    else EXPECT_EQ(now->to_vector<float>(), t.to_vector<float>()) << name;
  }
  // A model of another shape: the first mismatch is named.
  TrainConfig wrong = tiny("wrong-shape");
  wrong.arch = "resnet18-cifar";
  wrong.weights = weights;
  wrong.optimizers = {"sgd"};
  try {
    run_comparison(wrong);
    FAIL() << "loading resnet18 weights into resnet18-cifar must fail";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("conv1.weight has shape [64, 3, 7, 7]"), std::string::npos) << e.message();
  }
  // A file without the head, loaded without --reset-fc: the missing name is named.
  nn::SafetensorsContents headless = nn::load_safetensors(weights);
  std::vector<std::pair<std::string, Tensor>> kept;
  for (const auto& [name, t] : headless.tensors)
    if (name.rfind("fc.", 0) != 0) kept.emplace_back(name, t);
  const std::string no_fc = (fs::path(pre.out) / "no-fc.safetensors").string();
  nn::save_safetensors(no_fc, kept);
  TrainConfig missing = tiny("missing-name");
  missing.weights = no_fc;
  missing.optimizers = {"sgd"};
  try {
    run_comparison(missing);
    FAIL() << "a weights file without fc.weight must fail without --reset-fc";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("no tensor named fc.weight"), std::string::npos) << e.message();
  }
  for (const auto* c : {&pre, &fine, &wrong, &missing}) fs::remove_all(c->out);
}

int run_binary(const std::string& args, const char* binary = "ember-train") {
  const std::string cmd = std::string(EMBER_BINARY_DIR) + "/bin/" + binary + " " + args + " > /dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Train, ExitCodesOfBadInput) {
  EXPECT_EQ(run_binary("--no-such-flag"), 2);
  EXPECT_EQ(run_binary("--epochs 0"), 2);
  EXPECT_EQ(run_binary("--arch vgg"), 2);
  EXPECT_EQ(run_binary("--optimizer adam:betta1=0.9 --data synthetic:8,8 --device cpu"), 2);
  EXPECT_EQ(run_binary("--optimizer nosuch --data synthetic:8,8 --device cpu"), 2);
  EXPECT_EQ(run_binary("--data /nonexistent/cifar --device cpu --out /tmp/ember-train-test-missing"), 1);
  EXPECT_EQ(run_binary("--resume /nonexistent/run"), 1);
  EXPECT_EQ(run_binary("--help"), 0);
  for (const char* bad : {"--sweep lr=abc", "--sweep lr=1:0.1:0", "--shift 0:labels", "--shift 3:nonsense",
                          "--shift 11:labels", "--repeats 0", "--classes 3-12", "--reset-fc",
                          "--target-accuracy 1.5", "--precision fp16"})
    EXPECT_EQ(run_binary(std::string(bad) + " --data synthetic:8,8 --device cpu"), 2) << bad;
  EXPECT_EQ(run_binary("--weights /nonexistent.safetensors --data synthetic:8,8 --device cpu --epochs 1 "
                       "--out /tmp/ember-train-test-noweights"),
            1);
}

TEST(BenchTrain, RunsEveryModeOnTheCpuAndRefusesBadFlags) {
  const std::string base = "--device cpu --batch-size 2 --steps 1 --warmup 0 --json";
  EXPECT_EQ(run_binary(base, "ember-bench-train"), 0);
  EXPECT_EQ(run_binary(base + " --arch resnet18-cifar --precision bf16 --channels-last", "ember-bench-train"), 0);
  EXPECT_EQ(run_binary(base + " --cuda-graph", "ember-bench-train"), 2);  // a usage error without a GPU
  EXPECT_EQ(run_binary(base + " --precision fp16", "ember-bench-train"), 2);
  EXPECT_EQ(run_binary("--device cuda --steps 1", "ember-bench-train"), cuda_available() ? 0 : 1);
}

}  // namespace
}  // namespace ember::train
