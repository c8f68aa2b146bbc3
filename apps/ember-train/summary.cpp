#include "apps/ember-train/summary.h"

#include <cmath>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace ember::train {

namespace {

nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// Parameters + gradients + optimiser state, over the parameters alone (fp32 each): the seed's
// "Adam triples memory" as a measured number.
double memory_multiple(const OptimizerResult& r) {
  const double params = 4.0 * static_cast<double>(r.parameters);
  return params > 0 ? (params + 4.0 * static_cast<double>(r.trainable_parameters) + static_cast<double>(r.state_bytes)) /
                          params
                    : 0.0;
}

}  // namespace

std::string ember_commit() {
  const std::string command = std::string("git -C '") + EMBER_SOURCE_DIR + "' rev-parse HEAD 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return "unknown";
  char buf[64] = {};
  const bool ok = std::fgets(buf, sizeof buf, pipe) != nullptr;
  pclose(pipe);
  std::string sha = ok ? std::string(buf) : "";
  while (!sha.empty() && (sha.back() == '\n' || sha.back() == '\r')) sha.pop_back();
  return sha.empty() ? "unknown" : sha;
}

void write_summary(const std::string& path, const RunState& state, Device device) {
  nlohmann::json j;
  j["config"] = to_json(state.config);
  j["device"] = device_name(device);
  j["ember_commit"] = ember_commit();
  j["data"] = state.data_description;
  for (const OptimizerResult& r : state.results) {
    j["optimizers"].push_back({{"optimizer", r.optimizer},
                               {"canonical_spec", r.canonical},
                               {"final_test_accuracy", num(r.final_test_accuracy)},
                               {"best_test_accuracy", num(r.best_test_accuracy)},
                               {"epochs_done", r.epochs_done},
                               {"train_seconds", r.train_seconds},
                               {"wall_seconds", r.wall_seconds},
                               {"images_per_second", r.images_per_second},
                               {"parameters", r.parameters},
                               {"trainable_parameters", r.trainable_parameters},
                               {"optimizer_state_bytes", r.state_bytes},
                               {"state_bytes_per_parameter",
                                r.trainable_parameters > 0 ? static_cast<double>(r.state_bytes) / r.trainable_parameters
                                                           : 0.0},
                               {"memory_multiple_of_parameters", memory_multiple(r)},
                               {"peak_device_memory_bytes", r.peak_device_bytes},
                               {"diverged", r.diverged},
                               {"diverged_at", r.diverged ? nlohmann::json(r.diverged_at) : nlohmann::json(nullptr)}});
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(1) << "\n";
    EMBER_CHECK(out.good(), "cannot write {}", tmp);
  }
  EMBER_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename {} to {}", tmp, path);
}

std::string format_results_table(const RunState& state) {
  size_t width = 9;
  for (const OptimizerResult& r : state.results) width = std::max(width, r.optimizer.size());
  std::string out = fmt::format("\n{:<{}}  {:>9}  {:>9}  {:>9}  {:>9}  {:>10}  {:>8}  {:>10}\n", "optimizer", width,
                                "final acc", "best acc", "train s", "images/s", "state MB", "memory x", "peak MB");
  for (const OptimizerResult& r : state.results) {
    out += fmt::format("{:<{}}  {:>9.4f}  {:>9.4f}  {:>9.1f}  {:>9.0f}  {:>10.1f}  {:>8.2f}  {:>10.1f}{}\n",
                       r.optimizer, width, r.final_test_accuracy, r.best_test_accuracy, r.train_seconds,
                       r.images_per_second, r.state_bytes / 1e6, memory_multiple(r), r.peak_device_bytes / 1e6,
                       r.diverged ? "  DIVERGED (" + r.diverged_at + ")" : "");
  }
  return out;
}

}  // namespace ember::train
