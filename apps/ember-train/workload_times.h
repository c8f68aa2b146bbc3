// Time to target per optimiser on one workload, the score the performance profile compares
// (workload_comparison.h): from every run's time to its workload's target.
#pragma once

#include <string>
#include <vector>

namespace ember::train {

// One run's time to its workload's target (Inf: never reached, or diverged).
struct RunTime {
  std::string base;   // the optimiser as given by --optimizer
  std::string group;  // the spec the run used (a sweep's lr, a tuned trial's hyperparameters)
  double time = 0;
};

// What one workload gave the profile.
struct WorkloadOutcome {
  std::string target;  // the target, in words ("test accuracy >= 0.312")
  std::string unit;    // what time is counted in ("training images", "steps")
  std::vector<RunTime> runs;
};

// Per optimiser of `bases`: the best over its groups (a sweep's learning rates) of the mean
// time over the group's repeats - Inf when any repeat of the group missed the target, or when
// the optimiser has no runs.
std::vector<double> optimizer_times(const std::vector<RunTime>& runs, const std::vector<std::string>& bases);

}  // namespace ember::train
