#include "apps/ember-train/workload_comparison.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "apps/common/app_main.h"
#include "apps/ember-train/checkpoint.h"
#include "apps/ember-train/function_workload.h"
#include "apps/ember-train/run.h"
#include "apps/ember-train/tuning.h"
#include "core/error.h"

namespace ember::train {

namespace {

namespace fs = std::filesystem;
constexpr double kInf = std::numeric_limits<double>::infinity();

// --tune re-runs each optimiser's best trial under the trial's spec: the --optimizer spec it came from.
std::map<std::string, std::string> tuned_bases(const TrainConfig& c) {
  std::map<std::string, std::string> base_of;
  if (c.tune == 0) return base_of;
  const RunState trials = load_run_checkpoint(checkpoint_path(tuning_dir(c.out))).state;
  for (const TrialOutcome& o : trial_outcomes(plan_trials(c), trials))
    if (o.selected) base_of[o.trial.spec] = o.base;
  return base_of;
}

// A network workload's runs, read back from its finished comparison's checkpoint.
WorkloadOutcome network_outcome(const TrainConfig& c) {
  const RunState state = load_run_checkpoint(checkpoint_path(c.out)).state;
  const std::map<std::string, std::string> base_of = tuned_bases(c);
  double target = c.target_accuracy;
  std::string why = "--target-accuracy";
  if (!(target > 0)) {
    double best = 0;
    for (const EpochRow& e : state.epochs)
      if (std::isfinite(e.test_accuracy)) best = std::max(best, e.test_accuracy);
    target = kRelativeTarget * best;
    why = fmt::format("{:g} x the best test accuracy of any run, {:.4g}", kRelativeTarget, best);
  }
  WorkloadOutcome o{fmt::format("test accuracy >= {:.4g} ({})", target, why), "training images", {}};
  for (const RunResult& r : state.results) {
    double time = kInf;
    for (const EpochRow& e : state.epochs)
      if (!r.diverged && e.optimizer == r.optimizer && e.repeat == r.repeat && e.test_accuracy >= target) {
        time = static_cast<double>(e.images_seen);
        break;
      }
    const auto it = base_of.find(r.base);
    o.runs.push_back({it == base_of.end() ? r.base : it->second, r.optimizer, time});
  }
  return o;
}

std::vector<TrainConfig> workload_configs(const TrainConfig& config, const std::vector<Workload>& workloads) {
  std::vector<TrainConfig> configs;
  for (const Workload& w : workloads) {
    const bool several = workloads.size() > 1;
    TrainConfig c = workload_config(config, w, several ? (fs::path(config.out) / w.name).string() : config.out);
    validate(c);
    if (w.kind == WorkloadKind::Function) validate_function_workload(c);
    configs.push_back(std::move(c));
  }
  return configs;
}

}  // namespace

void validate_workloads(const TrainConfig& config) { workload_configs(config, parse_workloads(config)); }

int run_workloads(const TrainConfig& config, Device device) {
  const std::vector<Workload> workloads = parse_workloads(config);
  const bool several = workloads.size() > 1;
  const std::vector<TrainConfig> configs = workload_configs(config, workloads);
  std::vector<WorkloadResult> results;
  for (size_t i = 0; i < workloads.size(); ++i) {
    const TrainConfig& c = configs[i];
    if (several && !config.quiet)
      std::printf("workload %zu of %zu: %s -> %s\n", i + 1, workloads.size(), workloads[i].name.c_str(), c.out.c_str());
    WorkloadResult r{workloads[i], c.out, {}, {}};
    if (workloads[i].kind == WorkloadKind::Function) {
      std::error_code ec;
      fs::create_directories(c.out, ec);
      EMBER_CHECK(fs::is_directory(c.out), "cannot create the output folder {}: {}", c.out, ec.message());
      r.outcome = run_function_workload(c, workloads[i].name, device);
    } else {
      const int code = run_comparison(c);
      if (code != apps::kExitOk) return code;
      r.outcome = network_outcome(c);
    }
    r.times = optimizer_times(r.outcome.runs, config.optimizer_specs());
    results.push_back(std::move(r));
  }
  if (several) write_workload_outputs(config, results, device_name(device));
  return apps::kExitOk;
}

}  // namespace ember::train
