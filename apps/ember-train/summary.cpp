#include "apps/ember-train/summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/ember-train/history.h"
#include "apps/ember-train/statistics.h"
#include "core/error.h"

namespace ember::train {

namespace {

nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// Parameters + gradients + optimiser state, over the parameters alone (fp32 each): the seed's
// "Adam triples memory" as a measured number.
double memory_multiple(const RunResult& r) {
  const double params = 4.0 * static_cast<double>(r.parameters);
  return params > 0 ? (params + 4.0 * static_cast<double>(r.trainable_parameters) + static_cast<double>(r.state_bytes)) /
                          params
                    : 0.0;
}

template <class F>
std::vector<double> each(const Group& g, F f) {
  std::vector<double> v;
  for (const RunResult* r : g.runs) v.push_back(f(*r));
  return v;
}

nlohmann::json run_json(const RunResult& r, const RunState& state) {
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochRow& e : state.epochs)
    if (e.optimizer == r.optimizer && e.repeat == r.repeat)
      epochs.push_back({{"epoch", e.epoch}, {"test_accuracy", num(e.test_accuracy)}, {"test_loss", num(e.test_loss)},
                        {"images_seen", e.images_seen}, {"train_seconds", e.train_seconds}, {"joules", num(e.joules)},
                        {"test_accuracy_classes_0_4", num(e.test_accuracy_low)},
                        {"test_accuracy_classes_5_9", num(e.test_accuracy_high)}});
  auto target = [](double v) { return v >= 0 ? num(v) : nlohmann::json("not reached"); };
  return {{"optimizer", r.optimizer}, {"repeat", r.repeat}, {"seed", r.seed}, {"lr", r.lr},
          {"canonical_spec", r.canonical}, {"final_test_accuracy", num(r.final_test_accuracy)},
          {"best_test_accuracy", num(r.best_test_accuracy)}, {"epochs_done", r.epochs_done},
          {"train_seconds", r.train_seconds}, {"wall_seconds", r.wall_seconds},
          {"images_per_second", r.images_per_second}, {"energy_joules", num(r.energy_joules)},
          {"energy_source", r.energy_source}, {"cuda_graph", r.cuda_graph},
          {"images_to_target", r.images_to_target >= 0 ? nlohmann::json(r.images_to_target) : "not reached"},
          {"seconds_to_target", target(r.seconds_to_target)}, {"joules_to_target", target(r.joules_to_target)},
          {"diverged", r.diverged}, {"diverged_at", r.diverged ? nlohmann::json(r.diverged_at) : nullptr},
          {"epochs", epochs}};
}

// --target-accuracy: over the repeats that reached the target.
void add_target_figures(nlohmann::json& o, const Group& g, double target) {
  int reached = 0;
  for (const RunResult* r : g.runs) reached += r->images_to_target >= 0;
  auto target_mean = [&](auto f) {
    std::vector<double> v;
    for (const RunResult* r : g.runs)
      if (r->images_to_target >= 0) v.push_back(f(*r));
    return v.empty() ? nlohmann::json("not reached") : num(mean_std(v).first);
  };
  o["target_accuracy"] = target;
  o["target_reached_runs"] = reached;
  o["images_to_target"] = target_mean([](const RunResult& r) { return double(r.images_to_target); });
  o["seconds_to_target"] = target_mean([](const RunResult& r) { return r.seconds_to_target; });
  o["joules_to_target"] = target_mean([](const RunResult& r) { return r.joules_to_target; });
}

// --shift: before and just after the shift, and the images to recover (over the repeats that did).
void add_shift_figures(nlohmann::json& o, const Group& g) {
  auto mean = [&](auto f) { return mean_std(each(g, f)).first; };
  o["accuracy_before_shift"] = num(mean([](const RunResult& r) { return r.accuracy_before_shift; }));
  o["accuracy_after_shift"] = num(mean([](const RunResult& r) { return r.accuracy_after_shift; }));
  std::vector<double> images;
  for (const RunResult* r : g.runs)
    if (r->images_to_recover >= 0) images.push_back(double(r->images_to_recover));
  o["images_to_recover"] = images.empty() ? nlohmann::json("not recovered") : num(mean_std(images).first);
  o["recovered_runs"] = static_cast<int>(images.size());
}

}  // namespace

std::pair<double, double> mean_std(const std::vector<double>& values) {
  double sum = 0, n = 0;
  for (double v : values)
    if (std::isfinite(v)) sum += v, n += 1;
  if (n == 0) return {kNaN, kNaN};
  const double mean = sum / n;
  double ss = 0;
  for (double v : values)
    if (std::isfinite(v)) ss += (v - mean) * (v - mean);
  return {mean, n > 1 ? std::sqrt(ss / (n - 1)) : 0.0};
}

std::vector<Group> group_results(const std::vector<RunResult>& results) {
  std::vector<Group> groups;
  for (const RunResult& r : results) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.label == r.optimizer; });
    if (it == groups.end()) {
      groups.push_back({r.optimizer, r.base, r.lr, {}});
      it = groups.end() - 1;
    }
    it->runs.push_back(&r);
  }
  return groups;
}

std::vector<std::pair<std::string, double>> best_learning_rates(const std::vector<RunResult>& results) {
  std::vector<std::pair<std::string, double>> best;  // base -> lr, in order of appearance
  std::map<std::string, double> best_acc;
  for (const Group& g : group_results(results)) {
    auto it = std::find_if(best.begin(), best.end(), [&](const auto& b) { return b.first == g.base; });
    if (it == best.end()) {
      best.emplace_back(g.base, kNaN);
      it = best.end() - 1;
    }
    bool any_diverged = false;
    for (const RunResult* r : g.runs) any_diverged |= r->diverged;
    const double acc = mean_std(each(g, [](const RunResult& r) { return r.final_test_accuracy; })).first;
    if (!any_diverged && std::isfinite(acc) && (!best_acc.count(g.base) || acc > best_acc[g.base])) {
      best_acc[g.base] = acc;
      it->second = g.lr;
    }
  }
  return best;
}

std::string sweep_csv(const std::vector<RunResult>& results) {
  std::string out = "optimizer,lr,repeat,final_test_accuracy,best_test_accuracy,diverged\n";
  for (const RunResult& r : results)
    out += fmt::format("{},{},{},{},{},{}\n", csv_field(r.base), csv_number(r.lr), r.repeat,
                       csv_number(r.final_test_accuracy), csv_number(r.best_test_accuracy), r.diverged ? 1 : 0);
  return out;
}

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

namespace {

// The "optimizers" entry of one group: means (and standard deviations) over its repeats.
nlohmann::json group_json(const Group& g, const TrainConfig& config) {
  const RunResult& first = *g.runs.front();
  const auto [final_mean, final_std] = mean_std(each(g, [](const RunResult& r) { return r.final_test_accuracy; }));
  const auto [best_mean, best_std] = mean_std(each(g, [](const RunResult& r) { return r.best_test_accuracy; }));
  auto mean = [&](auto f) { return mean_std(each(g, f)).first; };
  int diverged = 0;
  for (const RunResult* r : g.runs) diverged += r->diverged;
  nlohmann::json o = {
      {"optimizer", g.label},
      {"base_spec", g.base},
      {"lr", g.lr},
      {"canonical_spec", first.canonical},
      {"repeats", g.runs.size()},
      {"final_test_accuracy", num(final_mean)},
      {"final_test_accuracy_std", num(final_std)},
      {"best_test_accuracy", num(best_mean)},
      {"best_test_accuracy_std", num(best_std)},
      {"epochs_done", first.epochs_done},
      {"train_seconds", mean([](const RunResult& r) { return r.train_seconds; })},
      {"wall_seconds", mean([](const RunResult& r) { return r.wall_seconds; })},
      {"images_per_second", mean([](const RunResult& r) { return r.images_per_second; })},
      {"parameters", first.parameters},
      {"trainable_parameters", first.trainable_parameters},
      {"optimizer_state_bytes", first.state_bytes},
      {"state_bytes_per_parameter", first.trainable_parameters > 0
                                        ? static_cast<double>(first.state_bytes) / first.trainable_parameters
                                        : 0.0},
      {"memory_multiple_of_parameters", memory_multiple(first)},
      {"peak_device_memory_bytes", first.peak_device_bytes},
      {"energy_joules", num(mean([](const RunResult& r) { return r.energy_joules; }))},
      {"energy_source", first.energy_source},
      {"diverged", diverged > 0},
      {"diverged_runs", diverged},
      {"diverged_at", diverged > 0 ? nlohmann::json(first.diverged_at) : nullptr}};
  if (config.target_accuracy > 0) add_target_figures(o, g, config.target_accuracy);
  if (!config.shift.empty()) add_shift_figures(o, g);
  return o;
}

}  // namespace

void write_summary(const std::string& path, const RunState& state, Device device) {
  nlohmann::json j;
  j["config"] = to_json(state.config);
  j["device"] = device_name(device);
  j["ember_commit"] = ember_commit();
  j["data"] = state.data_description;
  j["runs"] = nlohmann::json::array();
  for (const RunResult& r : state.results) j["runs"].push_back(run_json(r, state));
  j["optimizers"] = nlohmann::json::array();
  for (const Group& g : group_results(state.results)) j["optimizers"].push_back(group_json(g, state.config));
  j["statistics"] = statistics_json(compute_statistics(state));
  if (!state.config.sweep.empty()) {
    j["best_lr"] = nlohmann::json::object();
    for (const auto& [base, lr] : best_learning_rates(state.results)) j["best_lr"][base] = num(lr);
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
  const bool repeats = state.config.repeats > 1;
  const bool target = state.config.target_accuracy > 0;
  size_t width = 9;
  for (const RunResult& r : state.results) width = std::max(width, r.optimizer.size());
  std::string out = fmt::format("\n{:<{}}  {:>{}}  {:>8}  {:>8}  {:>9}  {:>9}  {:>7}  {:>8}  {:>8}  {:>10}", "optimizer",
                                width, repeats ? "final acc (+-sd)" : "final acc", repeats ? 16 : 9, "best acc",
                                "train s", "images/s", "state MB", "B/param", "memory x", "peak MB", "energy J");
  out += target ? fmt::format("  {:>15}  {:>11}", "images to target", "J to target") : "";
  out += "\n";
  for (const Group& g : group_results(state.results)) {
    const RunResult& f = *g.runs.front();
    const auto [acc, sd] = mean_std(each(g, [](const RunResult& r) { return r.final_test_accuracy; }));
    auto mean = [&](auto fn) { return mean_std(each(g, fn)).first; };
    int diverged = 0;
    for (const RunResult* r : g.runs) diverged += r->diverged;
    const double joules = mean([](const RunResult& r) { return r.energy_joules; });
    out += fmt::format("{:<{}}  {:>{}}  {:>8.4f}  {:>8.1f}  {:>9.0f}  {:>9.1f}  {:>7.1f}  {:>8.2f}  {:>8.1f}  {:>10}",
                       g.label, width, repeats ? fmt::format("{:.4f} +-{:.4f}", acc, sd) : fmt::format("{:.4f}", acc),
                       repeats ? 16 : 9, mean([](const RunResult& r) { return r.best_test_accuracy; }),
                       mean([](const RunResult& r) { return r.train_seconds; }),
                       mean([](const RunResult& r) { return r.images_per_second; }), f.state_bytes / 1e6,
                       f.trainable_parameters > 0 ? double(f.state_bytes) / f.trainable_parameters : 0.0,
                       memory_multiple(f), f.peak_device_bytes / 1e6,
                       std::isfinite(joules) ? fmt::format("{:.0f}", joules) : std::string("n/a"));
    if (target) {
      std::vector<double> images, j;
      for (const RunResult* r : g.runs)
        if (r->images_to_target >= 0) images.push_back(double(r->images_to_target)), j.push_back(r->joules_to_target);
      const double joules_to = mean_std(j).first;
      out += images.empty() ? fmt::format("  {:>15}  {:>11}", "not reached", "")
                            : fmt::format("  {:>15.0f}  {:>11}", mean_std(images).first,
                                          std::isfinite(joules_to) ? fmt::format("{:.0f}", joules_to) : "n/a");
    }
    if (diverged) out += fmt::format("  DIVERGED ({} of {} runs; {})", diverged, g.runs.size(), f.diverged_at);
    out += "\n";
  }
  const std::string source = state.results.empty() ? "" : state.results.front().energy_source;
  if (source.rfind("unavailable", 0) == 0) out += "energy: " + source + "\n";
  return out;
}

}  // namespace ember::train
