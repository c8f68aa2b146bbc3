// A comparison on one of ember-paths' 2-D test functions (--workload rosenbrock, beale,
// quadratic): every optimiser of the comparison, with its --sweep, --tune and --repeats, on a
// point started at ember-paths' start (-1.5, 2) - repeat r with seed s != 0 from a start
// moved by up to 0.1 in x and y, drawn from s. --epochs E is E * kFunctionStepsPerEpoch steps.
//
// The target: a loss at most kFunctionTargetFraction of the loss at the start (every
// function's minimum is 0); time to target is the first step that reaches it. --tune draws
// each optimiser's trials from its search space as for a network and keeps the trial with the
// lowest final loss (no test set to keep apart), re-run --repeats times.
//
// Writes to config.out: runs.csv (every run, trials first), paths.csv (the final runs' points),
// paths.png (their paths on the contours; gnuplot), summary.json and report.html.
#pragma once

#include "apps/ember-train/config.h"
#include "apps/ember-train/workload_times.h"
#include "core/device.h"

namespace ember::train {

constexpr double kFunctionTargetFraction = 1e-3;

// Checks that every optimiser (and every trial) can optimise a 2-D point: UsageError otherwise.
void validate_function_workload(const TrainConfig& config);
// Runs the comparison on `function` (config validated, out created) and writes its files.
WorkloadOutcome run_function_workload(const TrainConfig& config, const std::string& function, Device device);

}  // namespace ember::train
