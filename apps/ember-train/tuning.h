// --tune N: equal tuning budgets (issue 20, "Equal tuning budgets" in the README).
//
// A tuned comparison runs in two phases, each an ordinary comparison with its own folder,
// files, checkpoint and report:
//   1. <out>/tuning: every optimiser's N trials, drawn from its search space by a scrambled
//      Halton sequence (apps/compare/search_space.h), one seed, the same epochs and data;
//      training on the training set less a held-out validation set, evaluated every epoch on
//      both the validation and the test set.
//   2. <out>: each optimiser's best trial - by final validation accuracy, never the test set -
//      re-run with --repeats seeds on the same data; the verdict, report.html and tuning.csv.
// Each phase resumes from its own checkpoint (`--resume <out>` finds the phase).
#pragma once

#include <string>
#include <vector>

#include "apps/compare/search_space.h"
#include "apps/ember-train/config.h"
#include "apps/ember-train/run_state.h"

namespace ember::train {

// The phases a tuned comparison's configuration can be in (TrainConfig::phase).
constexpr const char* kPhaseTrials = "tuning";
constexpr const char* kPhaseFinal = "final";

// The --space values, parsed; UsageError for a bad one or one naming an optimiser that is
// not compared.
std::vector<compare::SpaceOverride> parse_spaces(const TrainConfig& config);
// Every trial of every optimiser (optimiser-major): the specs phase 1 trains.
struct TrialPlan {
  std::string base;  // the --optimizer spec
  compare::SearchSpace space;
  std::vector<compare::Trial> trials;
};
std::vector<TrialPlan> plan_trials(const TrainConfig& config);
// The specs of every trial, optimiser-major: what phase 1 trains.
std::vector<std::string> trial_specs(const TrainConfig& config);
// Checks the tuning flags and the phase: no --sweep or --shift with --tune, spaces valid.
// UsageError otherwise.
void validate_tuning(const TrainConfig& config);

// One trial's outcome, from phase 1's state.
struct TrialOutcome {
  std::string base;
  compare::Trial trial;
  double validation_accuracy = kNaN, best_validation_accuracy = kNaN, validation_loss = kNaN;
  double test_accuracy = kNaN, best_test_accuracy = kNaN;
  bool diverged = false, finished = false;
  bool selected = false;  // the best trial of its optimiser
};
// The outcomes of `plan` in `trials_state` (the trial runs' results and epoch rows), with the
// best trial of each optimiser marked: highest final validation accuracy among trials that
// did not diverge (the first of equals).
std::vector<TrialOutcome> trial_outcomes(const std::vector<TrialPlan>& plan, const RunState& trials_state);
// tuning.csv: optimizer,trial,spec,<every tuned key>,validation_accuracy,best_validation_accuracy,
// validation_loss,test_accuracy,best_test_accuracy,diverged,selected.
std::string tuning_csv(const std::vector<TrialOutcome>& outcomes);

// Phase 1 then phase 2 of `config` (validated, tune > 0, out set). `resuming`: continue each
// phase from its checkpoint where there is one. Returns the exit code.
int run_tuned_comparison(TrainConfig config, bool resuming);
// --resume DIR of a tuned comparison still in its tuning phase (DIR has no checkpoint of its
// own, DIR/tuning has): makes `config` the comparison's own (from the tuning checkpoint) and
// returns true; false otherwise (config untouched).
bool prepare_tuned_resume(TrainConfig& config);
// Where phase 1 of a tuned comparison writes: <out>/tuning.
std::string tuning_dir(const std::string& out);

}  // namespace ember::train
