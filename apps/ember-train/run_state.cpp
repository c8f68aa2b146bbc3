#include "apps/ember-train/run_state.h"

#include <cmath>

#include "core/error.h"

namespace ember::train {

namespace {

// JSON has no NaN: store null and read it back as NaN.
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
double num_from(const nlohmann::json& j) { return j.is_null() ? kNaN : j.get<double>(); }

}  // namespace

nlohmann::json to_json(const RunState& s) {
  nlohmann::json j;
  j["config"] = to_json(s.config);
  j["data_description"] = s.data_description;
  for (const HistoryRow& r : s.history)
    j["history"].push_back({r.optimizer, r.epoch, r.batch, r.images_seen, num(r.loss), num(r.accuracy)});
  for (const EpochRow& r : s.epochs)
    j["epochs"].push_back({r.optimizer, r.epoch, num(r.train_loss), num(r.train_accuracy), num(r.test_loss),
                           num(r.test_accuracy), r.seconds, r.images_per_second});
  for (const OptimizerResult& r : s.results)
    j["results"].push_back({{"optimizer", r.optimizer}, {"canonical", r.canonical}, {"finished", r.finished},
                            {"diverged", r.diverged}, {"diverged_at", r.diverged_at}, {"epochs_done", r.epochs_done},
                            {"final_test_accuracy", num(r.final_test_accuracy)},
                            {"best_test_accuracy", num(r.best_test_accuracy)}, {"train_seconds", r.train_seconds},
                            {"wall_seconds", r.wall_seconds}, {"images_seen", r.images_seen},
                            {"images_per_second", r.images_per_second}, {"parameters", r.parameters},
                            {"trainable_parameters", r.trainable_parameters}, {"state_bytes", r.state_bytes},
                            {"peak_device_bytes", r.peak_device_bytes}});
  const Progress& p = s.progress;
  j["progress"] = {{"optimizer", p.optimizer},
                   {"epoch", p.epoch},
                   {"batch", p.batch},
                   {"step", p.step},
                   {"images_seen", p.images_seen},
                   {"epoch_loss_sum", p.epoch_loss_sum},
                   {"epoch_accuracy_sum", p.epoch_accuracy_sum},
                   {"epoch_batches", p.epoch_batches},
                   {"epoch_images", p.epoch_images},
                   {"epoch_correct", p.epoch_correct},
                   {"window_loss_sum", num(p.window_loss_sum)},
                   {"window_accuracy_sum", p.window_accuracy_sum},
                   {"window_batches", p.window_batches},
                   {"epoch_seconds", p.epoch_seconds},
                   {"train_seconds", p.train_seconds},
                   {"wall_seconds", p.wall_seconds},
                   {"best_test_accuracy", num(p.best_test_accuracy)}};
  return j;
}

RunState run_state_from_json(const nlohmann::json& j) {
  RunState s;
  try {
    s.config = config_from_json(j.at("config"));
    s.data_description = j.value("data_description", "");
    for (const auto& r : j.value("history", nlohmann::json::array()))
      s.history.push_back({r.at(0), r.at(1), r.at(2), r.at(3), num_from(r.at(4)), num_from(r.at(5))});
    for (const auto& r : j.value("epochs", nlohmann::json::array()))
      s.epochs.push_back({r.at(0), r.at(1), num_from(r.at(2)), num_from(r.at(3)), num_from(r.at(4)), num_from(r.at(5)),
                          r.at(6), r.at(7)});
    for (const auto& r : j.value("results", nlohmann::json::array())) {
      OptimizerResult o;
      o.optimizer = r.at("optimizer");
      o.canonical = r.at("canonical");
      o.finished = r.at("finished");
      o.diverged = r.at("diverged");
      o.diverged_at = r.at("diverged_at");
      o.epochs_done = r.at("epochs_done");
      o.final_test_accuracy = num_from(r.at("final_test_accuracy"));
      o.best_test_accuracy = num_from(r.at("best_test_accuracy"));
      o.train_seconds = r.at("train_seconds");
      o.wall_seconds = r.at("wall_seconds");
      o.images_seen = r.at("images_seen");
      o.images_per_second = r.at("images_per_second");
      o.parameters = r.at("parameters");
      o.trainable_parameters = r.at("trainable_parameters");
      o.state_bytes = r.at("state_bytes");
      o.peak_device_bytes = r.at("peak_device_bytes");
      s.results.push_back(o);
    }
    const auto& p = j.at("progress");
    Progress& q = s.progress;
    q.optimizer = p.at("optimizer");
    q.epoch = p.at("epoch");
    q.batch = p.at("batch");
    q.step = p.at("step");
    q.images_seen = p.at("images_seen");
    q.epoch_loss_sum = p.at("epoch_loss_sum");
    q.epoch_accuracy_sum = p.at("epoch_accuracy_sum");
    q.epoch_batches = p.at("epoch_batches");
    q.epoch_images = p.at("epoch_images");
    q.epoch_correct = p.at("epoch_correct");
    q.window_loss_sum = num_from(p.at("window_loss_sum"));
    q.window_accuracy_sum = p.at("window_accuracy_sum");
    q.window_batches = p.at("window_batches");
    q.epoch_seconds = p.at("epoch_seconds");
    q.train_seconds = p.at("train_seconds");
    q.wall_seconds = p.at("wall_seconds");
    q.best_test_accuracy = num_from(p.at("best_test_accuracy"));
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("the checkpoint's run state is incomplete or malformed: {}", e.what());
  }
  return s;
}

}  // namespace ember::train
