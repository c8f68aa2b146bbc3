// The run state ember-train saves in its checkpoints: every field survives a round trip, and
// malformed input (a missing field, a value of the wrong type or range, a position that does
// not fit the configuration, a truncated or corrupt file) is one clear ember::Error line,
// never a crash or another exception.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "apps/ember-train/checkpoint.h"
#include "apps/ember-train/run_state.h"
#include "core/error.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;

// Every saved field of the configuration at a valid value other than its default.
TrainConfig full_config() {
  TrainConfig c;
  c.data = "synthetic:50,20";
  c.arch = "resnet18-cifar";
  c.optimizers = {"adam:lr=0.002", "sgd:momentum=0.9"};
  c.epochs = 7;
  c.batch_size = 33;
  c.device = "cpu";
  c.seed = 12345;
  c.augment = "standard";
  c.normalize = "cifar";
  c.lr_schedule = "cosine";
  c.warmup_epochs = 1.5;
  c.label_smoothing = 0.1;
  c.freeze_backbone = true;
  c.cuda_graph = true;
  c.precision = "bf16";
  c.channels_last = true;
  c.deterministic = true;
  c.log_every = 3;
  c.limit_train = 500;
  c.limit_test = 200;
  c.out = "/tmp/somewhere";
  c.threads = 2;
  c.save_models = true;
  c.repeats = 2;
  c.sweep = "lr=0.1,0.01";  // 2 specs x 2 lrs x 2 repeats: 8 runs
  c.target_accuracy = 0.5;
  c.shift = "3:labels";
  c.weights = "/w.safetensors";
  c.reset_fc = true;
  c.classes = "0-4";
  return c;
}

// Distinct values per field (k varies them between rows), none the default.
RunResult full_result(int k) {
  RunResult r;
  r.optimizer = "adam:lr=0.1," + std::to_string(k);
  r.base = "adam:base" + std::to_string(k);
  r.canonical = "adam:lr=0.1,beta1=0.9," + std::to_string(k);
  r.lr = 0.0123 + k;
  r.repeat = 1 + k;
  r.seed = (uint64_t(1) << 63) + 5 + k;  // above int64's range: stored unsigned
  r.finished = true;
  r.diverged = true;
  r.diverged_at = "epoch 2, batch " + std::to_string(k);
  r.epochs_done = 3 + k;
  r.final_test_accuracy = 0.61 + k;
  r.best_test_accuracy = 0.72 + k;
  r.train_seconds = 11.5 + k;
  r.wall_seconds = 13.25 + k;
  r.images_seen = 960 + k;
  r.images_per_second = 812.5 + k;
  r.parameters = 11173962 + k;
  r.trainable_parameters = 5130 + k;
  r.state_bytes = 41040 + k;
  r.peak_device_bytes = (int64_t(1) << 40) + k;  // above int's range
  r.energy_joules = 99.5 + k;
  r.energy_source = "rapl" + std::to_string(k);
  r.cuda_graph = "eager: reason " + std::to_string(k);
  r.images_to_target = 480 + k;
  r.seconds_to_target = 7.75 + k;
  r.joules_to_target = 55.5 + k;
  r.accuracy_before_shift = 0.41 + k;
  r.accuracy_after_shift = 0.07 + k;
  r.images_to_recover = 320 + k;
  return r;
}

HistoryRow full_history(int k) {
  return {"sgd:lr=" + std::to_string(k), 1 + k, 2 + k, 17 + k, 1700 + k, 2.25 + k, 0.125 + k};
}

EpochRow full_epoch(int k) {
  EpochRow e{"adam:" + std::to_string(k), 1 + k, 2 + k, 1.5 + k, 0.5 + k, 1.75 + k, 0.25 + k, 10.5 + k, 5000.5 + k};
  e.images_seen = 960 + k;
  e.train_seconds = 21.5 + k;
  e.joules = 3.5 + k;
  e.test_accuracy_low = 0.3 + k;
  e.test_accuracy_high = 0.2 + k;
  return e;
}

// A state in the middle of run 2 (of 8), epoch 2 (of 7), with two finished runs before it.
RunState full_state() {
  RunState s;
  s.config = full_config();
  s.data_description = "synthetic CIFAR-10-shaped data";
  s.history = {full_history(0), full_history(1)};
  s.epochs = {full_epoch(0), full_epoch(1), full_epoch(2)};
  s.results = {full_result(0), full_result(1)};
  s.current.result = full_result(2);
  s.current.history = {full_history(2)};
  s.current.epochs = {full_epoch(3)};
  Progress& p = s.progress;
  p.run = 2;
  p.epoch = 1;
  p.batch = 4;
  p.step = 17;
  p.images_seen = 1700;
  p.epoch_loss_sum = 9.125;
  p.epoch_accuracy_sum = 1.5;
  p.epoch_batches = 4;
  p.epoch_images = 400;
  p.epoch_correct = 123;
  p.window_loss_sum = 4.0625;
  p.window_accuracy_sum = 0.75;
  p.window_batches = 2;
  p.epoch_seconds = 3.5;
  p.train_seconds = 20.25;
  p.wall_seconds = 22.5;
  p.joules = 10.5;
  p.best_test_accuracy = 0.33;
  return s;
}

void expect_same(const TrainConfig& a, const TrainConfig& b) {
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.optimizers, b.optimizers);
  EXPECT_EQ(a.epochs, b.epochs);
  EXPECT_EQ(a.batch_size, b.batch_size);
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.augment, b.augment);
  EXPECT_EQ(a.normalize, b.normalize);
  EXPECT_EQ(a.lr_schedule, b.lr_schedule);
  EXPECT_EQ(a.warmup_epochs, b.warmup_epochs);
  EXPECT_EQ(a.label_smoothing, b.label_smoothing);
  EXPECT_EQ(a.freeze_backbone, b.freeze_backbone);
  EXPECT_EQ(a.cuda_graph, b.cuda_graph);
  EXPECT_EQ(a.precision, b.precision);
  EXPECT_EQ(a.channels_last, b.channels_last);
  EXPECT_EQ(a.deterministic, b.deterministic);
  EXPECT_EQ(a.log_every, b.log_every);
  EXPECT_EQ(a.limit_train, b.limit_train);
  EXPECT_EQ(a.limit_test, b.limit_test);
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.threads, b.threads);
  EXPECT_EQ(a.save_models, b.save_models);
  EXPECT_EQ(a.repeats, b.repeats);
  EXPECT_EQ(a.sweep, b.sweep);
  EXPECT_EQ(a.target_accuracy, b.target_accuracy);
  EXPECT_EQ(a.shift, b.shift);
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.reset_fc, b.reset_fc);
  EXPECT_EQ(a.classes, b.classes);
}

void expect_same(const RunResult& a, const RunResult& b) {
  EXPECT_EQ(a.optimizer, b.optimizer);
  EXPECT_EQ(a.base, b.base);
  EXPECT_EQ(a.canonical, b.canonical);
  EXPECT_EQ(a.lr, b.lr);
  EXPECT_EQ(a.repeat, b.repeat);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.finished, b.finished);
  EXPECT_EQ(a.diverged, b.diverged);
  EXPECT_EQ(a.diverged_at, b.diverged_at);
  EXPECT_EQ(a.epochs_done, b.epochs_done);
  EXPECT_EQ(a.final_test_accuracy, b.final_test_accuracy);
  EXPECT_EQ(a.best_test_accuracy, b.best_test_accuracy);
  EXPECT_EQ(a.train_seconds, b.train_seconds);
  EXPECT_EQ(a.wall_seconds, b.wall_seconds);
  EXPECT_EQ(a.images_seen, b.images_seen);
  EXPECT_EQ(a.images_per_second, b.images_per_second);
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_EQ(a.trainable_parameters, b.trainable_parameters);
  EXPECT_EQ(a.state_bytes, b.state_bytes);
  EXPECT_EQ(a.peak_device_bytes, b.peak_device_bytes);
  EXPECT_EQ(a.energy_joules, b.energy_joules);
  EXPECT_EQ(a.energy_source, b.energy_source);
  EXPECT_EQ(a.cuda_graph, b.cuda_graph);
  EXPECT_EQ(a.images_to_target, b.images_to_target);
  EXPECT_EQ(a.seconds_to_target, b.seconds_to_target);
  EXPECT_EQ(a.joules_to_target, b.joules_to_target);
  EXPECT_EQ(a.accuracy_before_shift, b.accuracy_before_shift);
  EXPECT_EQ(a.accuracy_after_shift, b.accuracy_after_shift);
  EXPECT_EQ(a.images_to_recover, b.images_to_recover);
}

void expect_same(const HistoryRow& a, const HistoryRow& b) {
  EXPECT_EQ(a.optimizer, b.optimizer);
  EXPECT_EQ(a.repeat, b.repeat);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.batch, b.batch);
  EXPECT_EQ(a.images_seen, b.images_seen);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.accuracy, b.accuracy);
}

void expect_same(const EpochRow& a, const EpochRow& b) {
  EXPECT_EQ(a.optimizer, b.optimizer);
  EXPECT_EQ(a.repeat, b.repeat);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.train_loss, b.train_loss);
  EXPECT_EQ(a.train_accuracy, b.train_accuracy);
  EXPECT_EQ(a.test_loss, b.test_loss);
  EXPECT_EQ(a.test_accuracy, b.test_accuracy);
  EXPECT_EQ(a.seconds, b.seconds);
  EXPECT_EQ(a.images_per_second, b.images_per_second);
  EXPECT_EQ(a.images_seen, b.images_seen);
  EXPECT_EQ(a.train_seconds, b.train_seconds);
  EXPECT_EQ(a.joules, b.joules);
  EXPECT_EQ(a.test_accuracy_low, b.test_accuracy_low);
  EXPECT_EQ(a.test_accuracy_high, b.test_accuracy_high);
}

void expect_same(const Progress& a, const Progress& b) {
  EXPECT_EQ(a.run, b.run);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.batch, b.batch);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.images_seen, b.images_seen);
  EXPECT_EQ(a.epoch_loss_sum, b.epoch_loss_sum);
  EXPECT_EQ(a.epoch_accuracy_sum, b.epoch_accuracy_sum);
  EXPECT_EQ(a.epoch_batches, b.epoch_batches);
  EXPECT_EQ(a.epoch_images, b.epoch_images);
  EXPECT_EQ(a.epoch_correct, b.epoch_correct);
  EXPECT_EQ(a.window_loss_sum, b.window_loss_sum);
  EXPECT_EQ(a.window_accuracy_sum, b.window_accuracy_sum);
  EXPECT_EQ(a.window_batches, b.window_batches);
  EXPECT_EQ(a.epoch_seconds, b.epoch_seconds);
  EXPECT_EQ(a.train_seconds, b.train_seconds);
  EXPECT_EQ(a.wall_seconds, b.wall_seconds);
  EXPECT_EQ(a.joules, b.joules);
  EXPECT_EQ(a.best_test_accuracy, b.best_test_accuracy);
}

template <class T>
void expect_same(const std::vector<T>& a, const std::vector<T>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) expect_same(a[i], b[i]);
}

TEST(RunState, EveryFieldSurvivesTheRoundTrip) {
  const RunState s = full_state();
  const nlohmann::json j = to_json(s);
  // Through text, as in a checkpoint.
  const RunState back = run_state_from_json(nlohmann::json::parse(j.dump()));
  expect_same(back.config, s.config);
  EXPECT_EQ(back.data_description, s.data_description);
  expect_same(back.history, s.history);
  expect_same(back.epochs, s.epochs);
  expect_same(back.results, s.results);
  expect_same(back.current.result, s.current.result);
  expect_same(back.current.history, s.current.history);
  expect_same(back.current.epochs, s.current.epochs);
  expect_same(back.progress, s.progress);
  // Tripwires: a field added to a struct must be added to its field list and to this test.
  EXPECT_EQ(j["config"].size(), 33u);
  EXPECT_EQ(j["results"][0].size(), 29u);
  EXPECT_EQ(j["history"][0].size(), 7u);
  EXPECT_EQ(j["epochs"][0].size(), 16u);
  EXPECT_EQ(j["progress"].size(), 18u);
  EXPECT_EQ(j.size(), 7u);
  // Rows are objects with named fields, not arrays read by position.
  EXPECT_EQ(j["epochs"][0]["test_accuracy_high"], 0.2);
  // The configuration comes back validated: its options parsed.
  EXPECT_EQ(back.config.parsed.runs.size(), 8u);
  EXPECT_EQ(back.config.parsed.augment, data::Augment::Standard);
}

TEST(RunState, NonFiniteNumbersAreSavedAsNullAndReadAsNaN) {
  RunState s = full_state();
  s.results[0].final_test_accuracy = std::numeric_limits<double>::infinity();
  s.history[0].loss = kNaN;
  s.progress.best_test_accuracy = -std::numeric_limits<double>::infinity();
  const nlohmann::json j = to_json(s);
  EXPECT_TRUE(j["results"][0]["final_test_accuracy"].is_null());
  EXPECT_TRUE(j["history"][0]["loss"].is_null());
  const RunState back = run_state_from_json(j);
  EXPECT_TRUE(std::isnan(back.results[0].final_test_accuracy));
  EXPECT_TRUE(std::isnan(back.history[0].loss));
  EXPECT_TRUE(std::isnan(back.progress.best_test_accuracy));
}

// One line of printable ASCII: what ember-train prints after "error: ".
bool one_printable_line(const std::string& text) {
  if (text.empty()) return false;
  for (const char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) return false;
  return true;
}

// The ember::Error (not UsageError: a bad file is exit 1, a bad command line exit 2) that
// `load` throws, or a failure saying what happened instead.
std::string error_of(const std::function<void()>& load) {
  try {
    load();
  } catch (const UsageError& e) {
    ADD_FAILURE() << "a UsageError (exit 2) for a bad file: " << e.message();
    return e.message();
  } catch (const Error& e) {
    EXPECT_TRUE(one_printable_line(e.message())) << e.message();
    return e.message();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an ember::Error: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

std::string error_reading(const nlohmann::json& j) {
  return error_of([&] { run_state_from_json(j); });
}

// Calls f(path, value) for every value under j (objects and arrays walked), path as a JSON pointer.
void for_each_leaf(const nlohmann::json& j, const std::string& path,
                   const std::function<void(const std::string&, const nlohmann::json&)>& f) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) for_each_leaf(it.value(), path + "/" + it.key(), f);
  } else if (j.is_array() && !j.empty() && (j[0].is_object() || j[0].is_array())) {
    for (size_t i = 0; i < j.size(); ++i) for_each_leaf(j[i], path + "/" + std::to_string(i), f);
  } else {
    f(path, j);
  }
}

TEST(RunState, EveryMissingFieldIsNamed) {
  const nlohmann::json good = to_json(full_state());
  int checked = 0;
  for_each_leaf(good, "", [&](const std::string& path, const nlohmann::json&) {
    nlohmann::json bad = good;
    const nlohmann::json::json_pointer pointer(path);
    bad[pointer.parent_pointer()].erase(pointer.back());
    const std::string message = error_reading(bad);
    EXPECT_NE(message.find(pointer.back() + ": missing"), std::string::npos) << path << ": " << message;
    ++checked;
  });
  EXPECT_GT(checked, 150);  // every leaf of config, rows, results, current and progress
}

TEST(RunState, EveryValueOfTheWrongTypeOrRangeIsAnError) {
  const nlohmann::json good = to_json(full_state());
  for_each_leaf(good, "", [&](const std::string& path, const nlohmann::json& value) {
    const nlohmann::json::json_pointer pointer(path);
    std::vector<nlohmann::json> wrong = {nlohmann::json::object(), nlohmann::json::array({1})};
    if (!value.is_string()) wrong.push_back("text");
    if (value.is_string() || value.is_boolean()) wrong.push_back(7);
    if (value.is_number_integer()) {
      wrong.push_back(1.5);     // a fraction where an integer belongs
      wrong.push_back(1e300);   // casting this to an integer would be undefined behaviour
      wrong.push_back(-1e300);
    }
    for (const nlohmann::json& w : wrong) {
      nlohmann::json bad = good;
      bad[pointer] = w;
      error_reading(bad);
    }
  });
  // Integers beyond the field's type.
  for (const char* pointer : {"/progress/run", "/config/epochs", "/results/0/repeat", "/history/0/epoch"}) {
    nlohmann::json bad = good;
    bad[nlohmann::json::json_pointer(pointer)] = int64_t(1) << 40;
    EXPECT_NE(error_reading(bad).find("not an integer in"), std::string::npos) << pointer;
  }
  nlohmann::json negative_seed = good;
  negative_seed["config"]["seed"] = -1;
  EXPECT_NE(error_reading(negative_seed).find("config.seed"), std::string::npos);
  for (const nlohmann::json& not_an_object :
       {nlohmann::json(), nlohmann::json(3), nlohmann::json("state"), nlohmann::json::array()})
    error_reading(not_an_object);
}

TEST(RunState, PositionsThatDoNotFitTheConfigurationAreErrors) {
  const nlohmann::json good = to_json(full_state());
  auto with = [&](const char* pointer, const nlohmann::json& value) {
    nlohmann::json bad = good;
    bad[nlohmann::json::json_pointer(pointer)] = value;
    return error_reading(bad);
  };
  EXPECT_NE(with("/progress/run", 9).find("progress.run"), std::string::npos);
  EXPECT_NE(with("/progress/run", -1).find("progress.run"), std::string::npos);
  EXPECT_NE(with("/progress/run", 3).find("finished runs"), std::string::npos);  // 2 results for run 3
  EXPECT_NE(with("/progress/epoch", 7).find("progress.epoch"), std::string::npos);
  EXPECT_NE(with("/progress/epoch", 0).find("current.epochs"), std::string::npos);  // 1 epoch row at epoch 0
  EXPECT_NE(with("/progress/window_batches", 3).find("window_batches"), std::string::npos);  // log_every 3
  EXPECT_NE(with("/progress/batch", -4).find("negative"), std::string::npos);
  // A configuration that does not validate: a data error here, naming the problem.
  EXPECT_NE(with("/config/epochs", 0).find("config: --epochs 0"), std::string::npos);
  EXPECT_NE(with("/config/optimizers", nlohmann::json::array({"nosuch"})).find("config: "), std::string::npos);
  const std::string bytes = with("/config/precision", "fp16\n\xff");
  EXPECT_NE(bytes.find("fp16\\x0a\\xff"), std::string::npos) << bytes;  // escaped, one line
}

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("ember-run-state-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

// A checkpoint between runs (no model): run 2 of 8 next.
RunState between_runs() {
  RunState s = full_state();
  s.current = RunRecord{};
  s.progress = Progress{};
  s.progress.run = 2;
  return s;
}

TEST(RunCheckpoint, LoadsWhatWasSaved) {
  const fs::path dir = scratch("saved");
  const std::string path = checkpoint_path(dir.string());
  save_run_checkpoint(path, between_runs(), nullptr, nullptr);
  const LoadedCheckpoint loaded = load_run_checkpoint(path);
  EXPECT_FALSE(loaded.has_training_state());
  EXPECT_EQ(loaded.state.progress.run, 2);
  expect_same(loaded.state.results, between_runs().results);
  fs::remove_all(dir);
}

TEST(RunCheckpoint, TruncatedOrCorruptFilesAreOneLineErrors) {
  const fs::path dir = scratch("corrupt");
  const std::string path = checkpoint_path(dir.string());
  save_run_checkpoint(path, between_runs(), nullptr, nullptr);
  const std::string good = read_bytes(path);
  for (size_t size : {size_t(0), size_t(7), size_t(8), size_t(100), good.size() / 2, good.size() - 1}) {
    write_bytes(path, good.substr(0, size));
    const std::string message = error_of([&] { load_run_checkpoint(path); });
    EXPECT_NE(message.find(path), std::string::npos) << size << ": " << message;
  }
  // Bytes flipped all over the header (its JSON, the run state inside it), one at a time.
  const size_t header = 8 + static_cast<size_t>(static_cast<unsigned char>(good[0]) |
                                                static_cast<unsigned char>(good[1]) << 8 |
                                                static_cast<unsigned char>(good[2]) << 16);
  ASSERT_LE(header, good.size());
  for (size_t at = 8; at < header; at += 97) {
    std::string bad = good;
    bad[at] = static_cast<char>(0xff);
    write_bytes(path, bad);
    try {
      load_run_checkpoint(path);  // a flip inside a string may still load: then it must be valid
    } catch (const Error& e) {
      EXPECT_TRUE(one_printable_line(e.message())) << at << ": " << e.message();
    }
  }
  fs::remove_all(dir);
}

TEST(RunCheckpoint, ARunStateInsideARunNeedsTheModel) {
  const fs::path dir = scratch("no-model");
  const std::string path = checkpoint_path(dir.string());
  save_run_checkpoint(path, full_state(), nullptr, nullptr);  // at epoch 2 of run 2, but no tensors
  EXPECT_NE(error_of([&] { load_run_checkpoint(path); }).find("no model is saved"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ember::train
