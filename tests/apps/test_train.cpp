// ember-train end to end on the CPU with synthetic data at tiny sizes: the files and their
// layout, falling losses, valid figures, divergence handling, frozen backbones stay frozen,
// repeats, sweeps, shifts and --weights. Resume, the training flags and the error texts have
// their own files (test_train_resume, test_train_flags, test_train_errors).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "apps/common/gnuplot.h"
#include "apps/ember-train/config.h"
#include "apps/ember-train/data_plan.h"
#include "apps/ember-train/run.h"
#include "apps/ember-train/run_loaders.h"
#include "apps/ember-train/run_model.h"
#include "core/device.h"
#include "core/error.h"
#include "core/generator.h"
#include "data/source.h"
#include "nn/checkpoint.h"
#include "nn/resnet.h"
#include "nn/safetensors.h"
#include "tests/apps/train_helpers.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;
using namespace testing;

// Checks the figures of a finished test's output folder, then removes it. The last call of
// a test: where gnuplot is missing the test is skipped, saying why (every other check done).
void expect_figures_then_remove(const fs::path& out, const std::vector<std::string>& figures) {
  const std::string no_figures = apps::gnuplot_missing_reason();
  if (no_figures.empty()) {
    for (const std::string& f : figures) EXPECT_TRUE(is_png(out / f)) << f;
  }
  fs::remove_all(out);
  if (!no_figures.empty()) GTEST_SKIP() << "the figures are not checked: " << no_figures;
}

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
  const nlohmann::json s = summary_of(c);
  ASSERT_EQ(s["optimizers"].size(), 4u);
  EXPECT_EQ(s["config"]["batch_size"], 16);
  EXPECT_FALSE(s["ember_commit"].get<std::string>().empty());
  for (size_t k = 0; k < 4; ++k) {
    const auto& o = s["optimizers"][k];
    EXPECT_FALSE(o["diverged"].get<bool>());
    // The final and best test accuracy are those of epochs.csv: the last epoch's and the
    // highest, each a count of the 32 test images right.
    std::vector<double> test_accuracy;
    for (size_t i = 1; i < epochs.size(); ++i) {
      auto f = split_csv_simple(epochs[i]);
      if (f[0] == c.optimizers[k]) test_accuracy.push_back(std::stod(f[6]));
    }
    ASSERT_EQ(test_accuracy.size(), 3u);
    const double final_accuracy = o["final_test_accuracy"].get<double>();
    EXPECT_NEAR(final_accuracy, test_accuracy[2], 1e-8) << c.optimizers[k];  // csv: 9 significant digits
    EXPECT_NEAR(o["best_test_accuracy"].get<double>(), *std::max_element(test_accuracy.begin(), test_accuracy.end()),
                1e-8);
    EXPECT_EQ(final_accuracy * 32, std::round(final_accuracy * 32)) << final_accuracy;
    EXPECT_GT(o["images_per_second"].get<double>(), 0.0);
    EXPECT_GT(o["peak_device_memory_bytes"].get<int64_t>(), 0);
  }
  EXPECT_EQ(s["optimizers"][0]["optimizer_state_bytes"].get<int64_t>(), 0);  // plain SGD keeps no state
  // Adam keeps two values per parameter: parameters + gradients + state = 4x the parameters.
  EXPECT_NEAR(s["optimizers"][1]["memory_multiple_of_parameters"].get<double>(), 4.0, 0.01);
  expect_figures_then_remove(out, {"training_metrics.png", "test_accuracy.png"});
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

// An 8-bit optimiser's run says how many parameters keep 8-bit state and how many float32
// (those under 4,096 elements); a 32-bit optimiser's says nothing of it. ResNet-18 has 62
// trainable tensors; its convolutions and fc weight are large, its batch norms small.
TEST(Train, EightBitRunsSayWhichParametersKeep8BitState) {
  const fs::path out = fs::temp_directory_path() / "ember-train-8bit";
  fs::remove_all(out);
  const Command run = run_binary("--data synthetic:32,8 --device cpu --batch-size 16 --epochs 1 --optimizer "
                                 "adam8bit --optimizer adam --out " + out.string());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const size_t at = run.out.find("] adam8bit (8-bit state for ");  // "== [1/2] adam8bit (..."
  ASSERT_NE(at, std::string::npos) << run.out;
  int quantised = 0, float32 = 0;
  ASSERT_EQ(std::sscanf(run.out.c_str() + at, "] adam8bit (8-bit state for %d parameters, float32 for %d under 4096",
                        &quantised, &float32),
            2);
  EXPECT_GT(quantised, 0);
  EXPECT_GT(float32, 0);
  EXPECT_EQ(quantised + float32, 62);
  EXPECT_NE(run.out.find("] adam\n"), std::string::npos) << run.out;
  fs::remove_all(out);
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
  expect_figures_then_remove(c.out, {"sweep.png", "energy.png"});
}

// The run's saved final model on `data`, evaluated as the run evaluates.
Evaluation final_model_evaluation(const TrainConfig& validated, const DataPlan& plan, const data::Dataset& data) {
  auto model = build_model(validated, validated.seed, Device::cpu());
  nn::load_checkpoint((fs::path(validated.out) / "model-1.safetensors").string(), *model);
  const RunLoaders loaders(plan, validated, validated.seed, Device::cpu());
  return evaluate(*model, *loaders.test_loader(data));
}

double final_model_accuracy(const TrainConfig& validated, const DataPlan& plan, const data::Dataset& data) {
  return final_model_evaluation(validated, plan, data).accuracy;
}

struct ShiftRun {
  TrainConfig config;  // validated
  DataPlan plan;       // the data as the run saw it
  nlohmann::json summary;
};

// A run of tiny() with --shift 2:<kind> and --save-models.
ShiftRun run_with_shift(const std::string& kind, const std::string& optimizer) {
  ShiftRun r;
  r.config = tiny("shift-" + kind);
  r.config.optimizers = {optimizer};
  r.config.shift = "2:" + kind;
  r.config.save_models = true;
  EXPECT_EQ(run_comparison(r.config), 0);
  validate(r.config);
  r.plan = make_data_plan(data::load_data(r.config.data, -1, -1, /*synthetic_seed=*/0), r.config);
  r.summary = summary_of(r.config);
  return r;
}

TEST(Train, LabelShiftPermutesTheLabelsFromTheShiftEpochOn) {
  // At this lr the model's predictions after one epoch are not all one class (at 0.001 they
  // are, and then the accuracies before and after the shift happen to be equal).
  const ShiftRun r = run_with_shift("labels", "adam:lr=0.003");
  const TrainConfig& c = r.config;
  const DataPlan& plan = r.plan;
  // The data as the run saw it: the same images, every label moved by one permutation.
  for (int64_t i = 0; i < 10; ++i) EXPECT_NE(plan.permutation.at(i), i);
  const auto before = plan.train_before.labels.to_vector<int64_t>(), after = plan.train_after.labels.to_vector<int64_t>();
  ASSERT_EQ(before.size(), 96u);
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i], plan.permutation[before[i]]) << i;
  EXPECT_EQ(plan.train_after.images.to_vector<uint8_t>(), plan.train_before.images.to_vector<uint8_t>());
  const auto& o = r.summary["optimizers"][0];
  const auto& epochs = r.summary["runs"][0]["epochs"];
  ASSERT_EQ(epochs.size(), 2u);
  // Before: the first epoch's test accuracy. Just after: the same model on the permuted test
  // set, so no image counts for both (no label stays in place): the two add up to at most 1.
  // (Whether they differ depends on the layer backend's rounding: not checked.)
  const double acc_before = o["accuracy_before_shift"].get<double>(), acc_after = o["accuracy_after_shift"].get<double>();
  EXPECT_EQ(acc_before, epochs[0]["test_accuracy"].get<double>());
  EXPECT_LE(acc_before + acc_after, 1.0);
  EXPECT_EQ(acc_after * 32, std::round(acc_after * 32)) << acc_after;  // a count of the 32 test images
  EXPECT_TRUE(o.contains("images_to_recover"));
  // Epoch 2 was tested on the permuted labels: the final model scores that there, not on the
  // original labels. The loss tells the two apart: the accuracies (counts of 32 images) can be
  // equal by chance, and whether they are depends on the CPU's rounding (they were on an
  // AVX-512 machine); the mean cross-entropy over labels that all differ cannot.
  const Evaluation permuted = final_model_evaluation(c, plan, plan.test_after);
  EXPECT_EQ(epochs[1]["test_accuracy"].get<double>(), permuted.accuracy);
  EXPECT_EQ(epochs[1]["test_loss"].get<double>(), permuted.loss);
  EXPECT_NE(permuted.loss, final_model_evaluation(c, plan, plan.test_before).loss);
  expect_figures_then_remove(c.out, {"shift.png"});
}

TEST(Train, ClassShiftTrainsTheOtherHalfFromTheShiftEpochOn) {
  const ShiftRun r = run_with_shift("classes", "adam:lr=0.001");
  const TrainConfig& c = r.config;
  const DataPlan& plan = r.plan;
  for (int64_t label : plan.train_before.labels.to_vector<int64_t>()) EXPECT_LT(label, 5);
  for (int64_t label : plan.train_after.labels.to_vector<int64_t>()) EXPECT_GE(label, 5);
  const auto& o = r.summary["optimizers"][0];
  const auto& epochs = r.summary["runs"][0]["epochs"];
  ASSERT_EQ(epochs.size(), 2u);
  // Synthetic image i has class i mod 10: epoch 1 trains the 50 images of classes 0-4, epoch 2
  // the other 46.
  EXPECT_EQ(epochs[0]["images_seen"], 50);
  EXPECT_EQ(epochs[1]["images_seen"], 96);
  // Before: classes 0-4 after epoch 1. Just after: the same model on classes 5-9 (15 of the 32
  // test images), which it has not been trained on.
  const double acc_before = o["accuracy_before_shift"].get<double>(), acc_after = o["accuracy_after_shift"].get<double>();
  EXPECT_EQ(acc_before, epochs[0]["test_accuracy_classes_0_4"].get<double>());
  EXPECT_EQ(acc_after * 15, std::round(acc_after * 15)) << acc_after;
  EXPECT_NE(acc_before, acc_after);
  // Both halves are tested every epoch, each on its own classes.
  EXPECT_EQ(epochs[1]["test_accuracy_classes_5_9"].get<double>(), final_model_accuracy(c, plan, plan.test_high));
  EXPECT_EQ(epochs[1]["test_accuracy_classes_0_4"].get<double>(), final_model_accuracy(c, plan, plan.test_low));
  expect_figures_then_remove(c.out, {"shift.png"});
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

}  // namespace
}  // namespace ember::train
