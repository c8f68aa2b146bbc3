// --workload: the tasks a comparison can run its optimisers on (issue 20, "Several
// workloads"): ResNet-18 with either stem on CIFAR-10 (--data), ResNet-18 on the synthetic
// task, and ember-paths' 2-D test functions. Each workload's score for the performance
// profile is its time to target (workload_comparison.h says how each target is set).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/ember-train/config.h"

namespace ember::train {

enum class WorkloadKind {
  Cifar,      // ResNet-18 on the CIFAR-10 folder given by --data
  Synthetic,  // ResNet-18 (--arch's stem) on synthetic data
  Function,   // an ember-paths test function: one 2-D point, kFunctionStepsPerEpoch steps per epoch
};

struct Workload {
  std::string name;  // as given by --workload
  WorkloadKind kind = WorkloadKind::Cifar;
  std::string arch;  // Cifar, Synthetic: resnet18 or resnet18-cifar
};

// A test function's "epoch": this many optimiser steps (--epochs E runs 100 E steps).
constexpr int64_t kFunctionStepsPerEpoch = 100;

// Every valid --workload name, comma-separated: resnet18, resnet18-cifar, synthetic and the
// test functions.
std::string workload_names();
// The workloads named by config.workloads, in order. UsageError (one line) for an unknown or
// repeated name (listing the valid ones), a CIFAR-10 workload without --data naming a folder,
// or a flag a test function cannot honour (--shift, --classes, --weights).
std::vector<Workload> parse_workloads(const TrainConfig& config);

// The configuration of one workload's comparison, written to `out`: config with the
// workload's model and data and no --workload (so that it runs as an ordinary comparison,
// and its folder resumes as one).
TrainConfig workload_config(const TrainConfig& config, const Workload& workload, const std::string& out);

}  // namespace ember::train
