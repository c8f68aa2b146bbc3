#include "apps/ember-train/run_state.h"

#include <cmath>

#include "apps/ember-train/json_integer.h"
#include "core/error.h"
#include "core/printable.h"

namespace ember::train {

namespace {

// JSON has no NaN or Inf: store null and read it back as NaN.
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
double num_from(const nlohmann::json& j) { return j.is_null() ? kNaN : j.get<double>(); }

// One table of (name, getter, setter) per struct would be more machinery than these two
// short lists: each field is written once and read once, in the same order.
nlohmann::json result_json(const RunResult& r) {
  return {{"optimizer", r.optimizer}, {"base", r.base}, {"canonical", r.canonical}, {"lr", r.lr},
          {"repeat", r.repeat}, {"seed", r.seed}, {"finished", r.finished}, {"diverged", r.diverged},
          {"diverged_at", r.diverged_at}, {"epochs_done", r.epochs_done},
          {"final_test_accuracy", num(r.final_test_accuracy)}, {"best_test_accuracy", num(r.best_test_accuracy)},
          {"train_seconds", r.train_seconds}, {"wall_seconds", r.wall_seconds}, {"images_seen", r.images_seen},
          {"images_per_second", r.images_per_second}, {"parameters", r.parameters},
          {"trainable_parameters", r.trainable_parameters}, {"state_bytes", r.state_bytes},
          {"peak_device_bytes", r.peak_device_bytes}, {"energy_joules", num(r.energy_joules)},
          {"energy_source", r.energy_source}, {"cuda_graph", r.cuda_graph}, {"images_to_target", r.images_to_target},
          {"seconds_to_target", r.seconds_to_target}, {"joules_to_target", num(r.joules_to_target)},
          {"accuracy_before_shift", num(r.accuracy_before_shift)},
          {"accuracy_after_shift", num(r.accuracy_after_shift)}, {"images_to_recover", r.images_to_recover}};
}

RunResult result_from(const nlohmann::json& j) {
  RunResult r;
  r.optimizer = j.at("optimizer");
  r.base = j.at("base");
  r.canonical = j.at("canonical");
  r.lr = j.at("lr");
  r.repeat = json_integer<int>(j.at("repeat"));
  r.seed = json_integer<uint64_t>(j.at("seed"));
  r.finished = j.at("finished");
  r.diverged = j.at("diverged");
  r.diverged_at = j.at("diverged_at");
  r.epochs_done = json_integer<int>(j.at("epochs_done"));
  r.final_test_accuracy = num_from(j.at("final_test_accuracy"));
  r.best_test_accuracy = num_from(j.at("best_test_accuracy"));
  r.train_seconds = j.at("train_seconds");
  r.wall_seconds = j.at("wall_seconds");
  r.images_seen = json_integer<int64_t>(j.at("images_seen"));
  r.images_per_second = j.at("images_per_second");
  r.parameters = json_integer<int64_t>(j.at("parameters"));
  r.trainable_parameters = json_integer<int64_t>(j.at("trainable_parameters"));
  r.state_bytes = json_integer<int64_t>(j.at("state_bytes"));
  r.peak_device_bytes = json_integer<int64_t>(j.at("peak_device_bytes"));
  r.energy_joules = num_from(j.at("energy_joules"));
  r.energy_source = j.at("energy_source");
  r.cuda_graph = j.value("cuda_graph", "off");
  r.images_to_target = json_integer<int64_t>(j.at("images_to_target"));
  r.seconds_to_target = j.at("seconds_to_target");
  r.joules_to_target = num_from(j.at("joules_to_target"));
  r.accuracy_before_shift = num_from(j.at("accuracy_before_shift"));
  r.accuracy_after_shift = num_from(j.at("accuracy_after_shift"));
  r.images_to_recover = json_integer<int64_t>(j.at("images_to_recover"));
  return r;
}

}  // namespace

nlohmann::json to_json(const RunState& s) {
  nlohmann::json j;
  j["config"] = to_json(s.config);
  j["data_description"] = s.data_description;
  j["history"] = nlohmann::json::array();
  for (const HistoryRow& r : s.history)
    j["history"].push_back({r.optimizer, r.repeat, r.epoch, r.batch, r.images_seen, num(r.loss), num(r.accuracy)});
  j["epochs"] = nlohmann::json::array();
  for (const EpochRow& r : s.epochs)
    j["epochs"].push_back({r.optimizer, r.repeat, r.epoch, num(r.train_loss), num(r.train_accuracy),
                           num(r.test_loss), num(r.test_accuracy), r.seconds, r.images_per_second, r.images_seen,
                           r.train_seconds, num(r.joules), num(r.test_accuracy_low), num(r.test_accuracy_high)});
  j["results"] = nlohmann::json::array();
  for (const RunResult& r : s.results) j["results"].push_back(result_json(r));
  const Progress& p = s.progress;
  j["progress"] = {{"run", p.run},
                   {"epoch", p.epoch},
                   {"batch", p.batch},
                   {"step", p.step},
                   {"images_seen", p.images_seen},
                   {"epoch_loss_sum", num(p.epoch_loss_sum)},
                   {"epoch_accuracy_sum", num(p.epoch_accuracy_sum)},
                   {"epoch_batches", p.epoch_batches},
                   {"epoch_images", p.epoch_images},
                   {"epoch_correct", p.epoch_correct},
                   {"window_loss_sum", num(p.window_loss_sum)},
                   {"window_accuracy_sum", num(p.window_accuracy_sum)},
                   {"window_batches", p.window_batches},
                   {"epoch_seconds", p.epoch_seconds},
                   {"train_seconds", p.train_seconds},
                   {"wall_seconds", p.wall_seconds},
                   {"joules", p.joules},
                   {"best_test_accuracy", num(p.best_test_accuracy)}};
  return j;
}

RunState run_state_from_json(const nlohmann::json& j) {
  RunState s;
  try {
    s.config = config_from_json(j.at("config"));
    s.data_description = j.value("data_description", "");
    for (const auto& r : j.at("history"))
      s.history.push_back({r.at(0), json_integer<int>(r.at(1)), json_integer<int>(r.at(2)),
                           json_integer<int64_t>(r.at(3)), json_integer<int64_t>(r.at(4)), num_from(r.at(5)),
                           num_from(r.at(6))});
    for (const auto& r : j.at("epochs")) {
      EpochRow e{r.at(0), json_integer<int>(r.at(1)), json_integer<int>(r.at(2)), num_from(r.at(3)),
                 num_from(r.at(4)), num_from(r.at(5)), num_from(r.at(6)), r.at(7), r.at(8)};
      e.images_seen = json_integer<int64_t>(r.at(9));
      e.train_seconds = r.at(10);
      e.joules = num_from(r.at(11));
      e.test_accuracy_low = num_from(r.at(12));
      e.test_accuracy_high = num_from(r.at(13));
      s.epochs.push_back(e);
    }
    for (const auto& r : j.at("results")) s.results.push_back(result_from(r));
    const auto& p = j.at("progress");
    Progress& q = s.progress;
    q.run = json_integer<int>(p.at("run"));
    q.epoch = json_integer<int>(p.at("epoch"));
    q.batch = json_integer<int64_t>(p.at("batch"));
    q.step = json_integer<int64_t>(p.at("step"));
    q.images_seen = json_integer<int64_t>(p.at("images_seen"));
    q.epoch_loss_sum = num_from(p.at("epoch_loss_sum"));
    q.epoch_accuracy_sum = num_from(p.at("epoch_accuracy_sum"));
    q.epoch_batches = json_integer<int64_t>(p.at("epoch_batches"));
    q.epoch_images = json_integer<int64_t>(p.at("epoch_images"));
    q.epoch_correct = json_integer<int64_t>(p.at("epoch_correct"));
    q.window_loss_sum = num_from(p.at("window_loss_sum"));
    q.window_accuracy_sum = num_from(p.at("window_accuracy_sum"));
    q.window_batches = json_integer<int>(p.at("window_batches"));
    q.epoch_seconds = p.at("epoch_seconds");
    q.train_seconds = p.at("train_seconds");
    q.wall_seconds = p.at("wall_seconds");
    q.joules = p.at("joules");
    q.best_test_accuracy = num_from(p.at("best_test_accuracy"));
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("the checkpoint's run state is incomplete or malformed: {}", printable(e.what()));
  }
  return s;
}

}  // namespace ember::train
