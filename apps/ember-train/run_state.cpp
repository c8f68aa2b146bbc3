#include "apps/ember-train/run_state.h"

#include "apps/ember-train/json_fields.h"
#include "core/error.h"
#include "core/printable.h"

namespace ember::train {

namespace {

// One list of saved fields per struct, for writing and reading (json_fields.h).

template <class Io, class Row>
void history_fields(Io& io, Row& r) {
  io("optimizer", r.optimizer);
  io("repeat", r.repeat);
  io("epoch", r.epoch);
  io("batch", r.batch);
  io("images_seen", r.images_seen);
  io("loss", r.loss);
  io("accuracy", r.accuracy);
}

template <class Io, class Row>
void epoch_fields(Io& io, Row& r) {
  io("optimizer", r.optimizer);
  io("repeat", r.repeat);
  io("epoch", r.epoch);
  io("train_loss", r.train_loss);
  io("train_accuracy", r.train_accuracy);
  io("test_loss", r.test_loss);
  io("test_accuracy", r.test_accuracy);
  io("seconds", r.seconds);
  io("images_per_second", r.images_per_second);
  io("images_seen", r.images_seen);
  io("train_seconds", r.train_seconds);
  io("joules", r.joules);
  io("test_accuracy_low", r.test_accuracy_low);
  io("test_accuracy_high", r.test_accuracy_high);
  io("validation_loss", r.validation_loss);
  io("validation_accuracy", r.validation_accuracy);
}

template <class Io, class Result>
void result_fields(Io& io, Result& r) {
  io("optimizer", r.optimizer);
  io("base", r.base);
  io("canonical", r.canonical);
  io("lr", r.lr);
  io("repeat", r.repeat);
  io("seed", r.seed);
  io("finished", r.finished);
  io("diverged", r.diverged);
  io("diverged_at", r.diverged_at);
  io("epochs_done", r.epochs_done);
  io("final_test_accuracy", r.final_test_accuracy);
  io("best_test_accuracy", r.best_test_accuracy);
  io("train_seconds", r.train_seconds);
  io("wall_seconds", r.wall_seconds);
  io("images_seen", r.images_seen);
  io("images_per_second", r.images_per_second);
  io("parameters", r.parameters);
  io("trainable_parameters", r.trainable_parameters);
  io("state_bytes", r.state_bytes);
  io("peak_device_bytes", r.peak_device_bytes);
  io("energy_joules", r.energy_joules);
  io("energy_source", r.energy_source);
  io("cuda_graph", r.cuda_graph);
  io("images_to_target", r.images_to_target);
  io("seconds_to_target", r.seconds_to_target);
  io("joules_to_target", r.joules_to_target);
  io("accuracy_before_shift", r.accuracy_before_shift);
  io("accuracy_after_shift", r.accuracy_after_shift);
  io("images_to_recover", r.images_to_recover);
}

template <class Io, class P>
void progress_fields(Io& io, P& p) {
  io("run", p.run);
  io("epoch", p.epoch);
  io("batch", p.batch);
  io("step", p.step);
  io("images_seen", p.images_seen);
  io("epoch_loss_sum", p.epoch_loss_sum);
  io("epoch_accuracy_sum", p.epoch_accuracy_sum);
  io("epoch_batches", p.epoch_batches);
  io("epoch_images", p.epoch_images);
  io("epoch_correct", p.epoch_correct);
  io("window_loss_sum", p.window_loss_sum);
  io("window_accuracy_sum", p.window_accuracy_sum);
  io("window_batches", p.window_batches);
  io("epoch_seconds", p.epoch_seconds);
  io("train_seconds", p.train_seconds);
  io("wall_seconds", p.wall_seconds);
  io("joules", p.joules);
  io("best_test_accuracy", p.best_test_accuracy);
}

template <class T, class Fields>
nlohmann::json write(const T& value, Fields fields) {
  nlohmann::json j = nlohmann::json::object();
  JsonWriter writer(j);
  fields(writer, value);
  return j;
}

template <class T, class Fields>
nlohmann::json write_all(const std::vector<T>& values, Fields fields) {
  nlohmann::json j = nlohmann::json::array();
  for (const T& v : values) j.push_back(write(v, fields));
  return j;
}

template <class T, class Fields>
T read(const nlohmann::json& j, const std::string& where, Fields fields) {
  T value;
  const JsonReader reader(j, where);
  fields(reader, value);
  return value;
}

template <class T, class Fields>
std::vector<T> read_all(const JsonReader& object, const char* key, Fields fields) {
  return read_array<T>(object.at(key), object.where(key),
                       [&](const nlohmann::json& j, const std::string& where) { return read<T>(j, where, fields); });
}

// Generic lambdas over the field lists, so that write() and read() can take them as values.
const auto kHistory = [](auto& io, auto& r) { history_fields(io, r); };
const auto kEpoch = [](auto& io, auto& r) { epoch_fields(io, r); };
const auto kResult = [](auto& io, auto& r) { result_fields(io, r); };
const auto kProgress = [](auto& io, auto& p) { progress_fields(io, p); };

nlohmann::json record_json(const RunRecord& r) {
  return {{"result", write(r.result, kResult)},
          {"history", write_all(r.history, kHistory)},
          {"epochs", write_all(r.epochs, kEpoch)}};
}

RunRecord record_from(const nlohmann::json& j, const std::string& where) {
  const JsonReader object(j, where);
  RunRecord r;
  r.result = read<RunResult>(object.at("result"), object.where("result"), kResult);
  r.history = read_all<HistoryRow>(object, "history", kHistory);
  r.epochs = read_all<EpochRow>(object, "epochs", kEpoch);
  return r;
}

// The position must be one training can continue from (trainer.cpp indexes by it).
void check_position(const RunState& s) {
  const Progress& p = s.progress;
  const int runs = static_cast<int>(s.config.parsed.runs.size());
  EMBER_CHECK(p.run >= 0 && p.run <= runs, "progress.run: {} is not a run of this configuration (0 to {})", p.run,
              runs);
  EMBER_CHECK(static_cast<int>(s.results.size()) == p.run, "results: {} finished runs before run {}",
              s.results.size(), p.run);
  EMBER_CHECK(p.epoch >= 0 && p.epoch < s.config.epochs, "progress.epoch: {} is not an epoch of {}", p.epoch,
              s.config.epochs);
  EMBER_CHECK(static_cast<int>(s.current.epochs.size()) == p.epoch,
              "current.epochs: {} rows for a run at epoch {}", s.current.epochs.size(), p.epoch);
  EMBER_CHECK(p.batch >= 0 && p.step >= 0 && p.images_seen >= 0 && p.epoch_batches >= 0 && p.epoch_images >= 0 &&
                  p.epoch_correct >= 0,
              "progress: a negative count");
  EMBER_CHECK(p.window_batches >= 0 && p.window_batches < s.config.log_every,
              "progress.window_batches: {} is not in [0, log_every {})", p.window_batches, s.config.log_every);
}

}  // namespace

void RunState::add(const RunRecord& finished) {
  history.insert(history.end(), finished.history.begin(), finished.history.end());
  epochs.insert(epochs.end(), finished.epochs.begin(), finished.epochs.end());
  results.push_back(finished.result);
}

RunState RunState::with_current() const {
  RunState all = *this;
  all.add(current);
  all.current = RunRecord{};
  return all;
}

nlohmann::json to_json(const RunState& s) {
  return {{"config", to_json(s.config)},
          {"data_description", s.data_description},
          {"history", write_all(s.history, kHistory)},
          {"epochs", write_all(s.epochs, kEpoch)},
          {"results", write_all(s.results, kResult)},
          {"current", record_json(s.current)},
          {"progress", write(s.progress, kProgress)}};
}

nlohmann::json to_json(const RunRecord& record) { return record_json(record); }

RunRecord run_record_from_json(const nlohmann::json& j, const std::string& where) { return record_from(j, where); }

RunState run_state_from_json(const nlohmann::json& j) {
  const JsonReader object(j, "");
  RunState s;
  s.config = config_from_json(object.at("config"));
  try {
    validate(s.config);
  } catch (const UsageError& e) {  // a bad file, not a bad command line: exit 1, not 2
    EMBER_FAIL("config: {}", printable(e.message()));
  }
  object("data_description", s.data_description);
  s.history = read_all<HistoryRow>(object, "history", kHistory);
  s.epochs = read_all<EpochRow>(object, "epochs", kEpoch);
  s.results = read_all<RunResult>(object, "results", kResult);
  s.current = record_from(object.at("current"), "current");
  s.progress = read<Progress>(object.at("progress"), "progress", kProgress);
  check_position(s);
  return s;
}

}  // namespace ember::train
