// summary.json, sweep.csv and the end-of-run table.
#pragma once

#include <string>
#include <vector>

#include "apps/ember-train/run_state.h"
#include "apps/ember-train/runs.h"
#include "core/device.h"

namespace ember::train {

// The runs of one group (one optimiser spec at one learning rate), over its repeats.
struct Group {
  std::string label;  // the runs' spec
  std::string base;   // the spec given by --optimizer
  double lr = 0;
  std::vector<const RunResult*> runs;
};
std::vector<Group> group_results(const std::vector<RunResult>& results);

// summary.json: the configuration, device, ember commit, data; per group ("optimizers"):
// final and best test accuracy (mean and standard deviation over repeats), times, images/s,
// optimiser state bytes (also per parameter, and parameters + gradients + state as a
// multiple of the parameters alone), peak device memory, energy, time and energy to
// --target-accuracy, the shift's figures, divergence; per run ("runs") the same with every
// epoch; with --sweep each optimiser's best learning rate.
void write_summary(const std::string& path, const RunState& state, Device device);
// sweep.csv: optimizer,lr,repeat,final_test_accuracy,best_test_accuracy,diverged.
std::string sweep_csv(const std::vector<RunResult>& results);
// Per base optimiser, the lr whose mean final test accuracy (non-diverged runs) is highest;
// NaN when every lr diverged.
std::vector<std::pair<std::string, double>> best_learning_rates(const std::vector<RunResult>& results);
std::string format_results_table(const RunState& state);
// The git commit of the source tree ember was built from, or "unknown".
std::string ember_commit();

// Mean and sample standard deviation of the finite values (NaN when there are none).
std::pair<double, double> mean_std(const std::vector<double>& values);

}  // namespace ember::train
