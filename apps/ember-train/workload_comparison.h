// --workload A --workload B ...: the comparison (every optimiser with its --sweep, --tune and
// --repeats) on each workload, then the verdict across them as AlgoPerf gives it - a
// Dolan-More performance profile of the time to target (apps/compare/performance_profile.h).
//
// One workload: the comparison runs in --out itself, its files exactly as without
// --workload. Several: each runs in <out>/<name>/ (resumable there with --resume), and <out>
// gets workloads.csv, summary.json (per workload: target, each optimiser's time and ratio to
// the best; the profile), performance_profile.png and report.html.
//
// Targets, per workload:
//   networks (resnet18, resnet18-cifar, synthetic): test accuracy >= --target-accuracy when
//     given, else kRelativeTarget x the best test accuracy any run of the workload reached
//     (AlgoPerf sets its targets from the best tuned baseline); time is the training images
//     until the first epoch that reached it.
//   test functions: loss <= kFunctionTargetFraction x the loss at the start; time in steps.
// Time is counted in work (images, steps), not seconds, so that a shared machine's load does
// not move the profile; every optimiser of a workload has the same batch size. An optimiser's
// time on a workload is the best of its groups (a sweep's learning rates) of the mean over
// the repeats; a group with a repeat that missed the target (or diverged) counts as never.
#pragma once

#include <string>
#include <vector>

#include "apps/ember-train/config.h"
#include "apps/ember-train/workload_times.h"
#include "apps/ember-train/workloads.h"
#include "core/device.h"

namespace ember::train {

constexpr double kRelativeTarget = 0.9;

// One workload's result, for the cross-workload outputs.
struct WorkloadResult {
  Workload workload;
  std::string folder;  // its comparison's folder
  WorkloadOutcome outcome;
  std::vector<double> times;  // per optimiser of config.optimizer_specs(): optimizer_times()
};

// Every usage error of config.workloads and of each workload's comparison (UsageError, one
// line), before anything is written.
void validate_workloads(const TrainConfig& config);
// Runs every workload of config.workloads (config validated, out created). Returns the exit
// code (130 when a workload was interrupted: the workloads after it are not run).
int run_workloads(const TrainConfig& config, Device device);

// The cross-workload files in config.out: workloads.csv, summary.json,
// performance_profile.png (gnuplot) and report.html.
void write_workload_outputs(const TrainConfig& config, const std::vector<WorkloadResult>& results,
                            const std::string& device);

}  // namespace ember::train
