#include "apps/ember-train/tuning.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "apps/common/app_main.h"
#include "apps/ember-train/checkpoint.h"
#include "apps/ember-train/history.h"
#include "apps/ember-train/run.h"
#include "apps/ember-train/tuning_figure.h"
#include "core/dist/launch.h"
#include "core/error.h"
#include "core/printable.h"

namespace ember::train {

namespace fs = std::filesystem;

std::string tuning_dir(const std::string& out) { return (fs::path(out) / "tuning").string(); }

std::vector<compare::SpaceOverride> parse_spaces(const TrainConfig& config) {
  std::vector<std::string> names;
  for (const std::string& spec : config.optimizer_specs()) names.push_back(compare::spec_name(spec));
  std::vector<compare::SpaceOverride> overrides;
  for (const std::string& text : config.spaces) {
    compare::SpaceOverride o = compare::parse_space_override(text);
    EMBER_USAGE_CHECK(std::find(names.begin(), names.end(), o.optimizer) != names.end(),
                      "--space {}: {} is not among the compared optimisers ({})", printable(text), o.optimizer,
                      fmt::join(names, ", "));
    overrides.push_back(std::move(o));
  }
  return overrides;
}

std::vector<TrialPlan> plan_trials(const TrainConfig& config) {
  const std::vector<compare::SpaceOverride> overrides = parse_spaces(config);
  std::vector<TrialPlan> plan;
  for (const std::string& base : config.optimizer_specs()) {
    TrialPlan p{base, compare::search_space_for(base, overrides), {}};
    p.trials = compare::draw_trials(base, p.space, config.tune, config.seed);
    plan.push_back(std::move(p));
  }
  return plan;
}

std::vector<std::string> trial_specs(const TrainConfig& config) {
  std::vector<std::string> specs;
  for (const TrialPlan& p : plan_trials(config))
    for (const compare::Trial& t : p.trials) specs.push_back(t.spec);
  return specs;
}

void validate_tuning(const TrainConfig& config) {
  EMBER_USAGE_CHECK(config.phase.empty() || config.phase == kPhaseTrials || config.phase == kPhaseFinal,
                    "phase '{}' is not a phase of --tune", printable(config.phase));
  if (config.tune == 0) {
    EMBER_USAGE_CHECK(config.spaces.empty(), "--space needs --tune N");
    EMBER_USAGE_CHECK(config.phase.empty(), "phase '{}' without --tune", config.phase);
    return;
  }
  EMBER_USAGE_CHECK(config.sweep.empty(), "--tune draws the learning rate itself: leave out --sweep");
  EMBER_USAGE_CHECK(config.shift.empty(), "--tune and --shift together are not supported");
  if (config.phase != kPhaseFinal) plan_trials(config);  // every space and its bounds
}

bool prepare_tuned_resume(TrainConfig& config) {
  if (config.resume.empty() || fs::exists(checkpoint_path(config.resume))) return false;
  const std::string trials = checkpoint_path(tuning_dir(config.resume));
  if (!fs::exists(trials)) return false;
  TrainConfig saved = load_run_checkpoint(trials).state.config;
  saved.phase.clear();
  saved.out = config.resume;
  saved.quiet = config.quiet;
  saved.threads = config.threads;
  config = saved;
  return true;
}

namespace {

// The epoch rows of the run with spec `spec` (repeat 0) in `state`.
std::vector<const EpochRow*> rows_of(const RunState& state, const std::string& spec) {
  std::vector<const EpochRow*> rows;
  for (const EpochRow& e : state.epochs)
    if (e.optimizer == spec && e.repeat == 0) rows.push_back(&e);
  return rows;
}

}  // namespace

std::vector<TrialOutcome> trial_outcomes(const std::vector<TrialPlan>& plan, const RunState& trials_state) {
  std::vector<TrialOutcome> outcomes;
  for (const TrialPlan& p : plan) {
    const size_t first = outcomes.size();
    for (const compare::Trial& t : p.trials) {
      TrialOutcome o{p.base, t};
      for (const RunResult& r : trials_state.results)
        if (r.optimizer == t.spec) {
          o.test_accuracy = r.final_test_accuracy;
          o.best_test_accuracy = r.best_test_accuracy;
          o.diverged = r.diverged;
          o.finished = true;
        }
      const std::vector<const EpochRow*> rows = rows_of(trials_state, t.spec);
      if (!rows.empty()) {
        o.validation_accuracy = rows.back()->validation_accuracy;
        o.validation_loss = rows.back()->validation_loss;
        for (const EpochRow* e : rows)
          if (std::isfinite(e->validation_accuracy) && !(e->validation_accuracy <= o.best_validation_accuracy))
            o.best_validation_accuracy = e->validation_accuracy;
      }
      outcomes.push_back(std::move(o));
    }
    size_t best = outcomes.size();
    for (size_t i = first; i < outcomes.size(); ++i) {
      const TrialOutcome& o = outcomes[i];
      if (o.finished && !o.diverged && std::isfinite(o.validation_accuracy) &&
          (best == outcomes.size() || o.validation_accuracy > outcomes[best].validation_accuracy))
        best = i;
    }
    if (best < outcomes.size()) outcomes[best].selected = true;
  }
  return outcomes;
}

std::string tuning_csv(const std::vector<TrialOutcome>& outcomes) {
  std::vector<std::string> keys;  // every tuned key, in order of first appearance
  for (const TrialOutcome& o : outcomes)
    for (const auto& [key, value] : o.trial.values)
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  std::string out = "optimizer,trial,spec";
  for (const std::string& k : keys) out += "," + k;
  out += ",validation_accuracy,best_validation_accuracy,validation_loss,test_accuracy,best_test_accuracy,diverged,"
         "selected\n";
  for (const TrialOutcome& o : outcomes) {
    out += fmt::format("{},{},{}", csv_field(o.base), o.trial.index, csv_field(o.trial.spec));
    for (const std::string& k : keys) {
      auto it = std::find_if(o.trial.values.begin(), o.trial.values.end(), [&](const auto& v) { return v.first == k; });
      out += "," + (it == o.trial.values.end() ? std::string() : csv_number(it->second));
    }
    out += fmt::format(",{},{},{},{},{},{},{}\n", csv_number(o.validation_accuracy),
                       csv_number(o.best_validation_accuracy), csv_number(o.validation_loss),
                       csv_number(o.test_accuracy), csv_number(o.best_test_accuracy), o.diverged ? 1 : 0,
                       o.selected ? 1 : 0);
  }
  return out;
}

int run_tuned_comparison(TrainConfig config, bool resuming) {
  const std::vector<TrialPlan> plan = plan_trials(config);
  TrainConfig trials = config;
  trials.phase = kPhaseTrials;
  trials.out = tuning_dir(config.out);
  trials.resume = resuming && fs::exists(checkpoint_path(trials.out)) ? trials.out : "";
  if (!config.quiet)
    std::printf("tuning: %d trial(s) per optimiser, best by validation accuracy, in %s\n", config.tune,
                trials.out.c_str());
  const int code = run_comparison(trials);
  if (code != apps::kExitOk) {
    if (code == apps::kExitInterrupted)
      std::printf("(a tuned comparison: continue it with ember-train --resume %s)\n", config.out.c_str());
    return code;
  }
  const std::vector<TrialOutcome> outcomes =
      trial_outcomes(plan, load_run_checkpoint(checkpoint_path(trials.out)).state);
  // Under mpirun every rank reads the trials' checkpoint (rank 0 wrote it before the ranks
  // finished the trials together) and picks the same best trials; rank 0 alone writes.
  if (dist::detect_launch().rank == 0) {
    const std::string figure = draw_tuning_figure(config.out, outcomes);
    if (!figure.empty())
      std::fprintf(stderr, "ember-train: note: %s (tuning.csv holds every number)\n", figure.c_str());
    std::ofstream csv(fs::path(config.out) / "tuning.csv", std::ios::binary);
    csv << tuning_csv(outcomes);
    EMBER_CHECK(csv.good(), "cannot write {}", (fs::path(config.out) / "tuning.csv").string());
  }
  TrainConfig final = config;
  final.phase = kPhaseFinal;
  final.optimizers.clear();
  for (const TrialPlan& p : plan) {
    auto best = std::find_if(outcomes.begin(), outcomes.end(),
                             [&](const TrialOutcome& o) { return o.base == p.base && o.selected; });
    if (best != outcomes.end()) final.optimizers.push_back(best->trial.spec);
    else std::fprintf(stderr, "ember-train: warning: every trial of %s diverged: it is left out\n", p.base.c_str());
  }
  EMBER_CHECK(!final.optimizers.empty(), "every trial of every optimiser diverged (see {})",
              (fs::path(config.out) / "tuning.csv").string());
  final.resume = resuming && fs::exists(checkpoint_path(config.out)) ? config.out : "";
  if (!config.quiet) std::printf("tuning done: re-running each optimiser's best trial %d time(s)\n", config.repeats);
  return run_comparison(final);
}

}  // namespace ember::train
