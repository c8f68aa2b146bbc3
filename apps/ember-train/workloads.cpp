#include "apps/ember-train/workloads.h"

#include <algorithm>

#include <fmt/format.h>

#include "apps/ember-paths/test_functions.h"
#include "core/error.h"
#include "core/printable.h"

namespace ember::train {

namespace {

bool is_synthetic_spec(const std::string& data) { return data.rfind("synthetic", 0) == 0; }

Workload find_workload(const std::string& name) {
  if (name == "resnet18" || name == "resnet18-cifar") return {name, WorkloadKind::Cifar, name};
  if (name == "synthetic") return {name, WorkloadKind::Synthetic, ""};
  EMBER_USAGE_CHECK(paths::find_test_function(name) != nullptr, "--workload '{}' is unknown; valid: {}",
                    printable(name), workload_names());
  return {name, WorkloadKind::Function, ""};
}

}  // namespace

std::string workload_names() { return "resnet18, resnet18-cifar, synthetic, " + paths::test_function_names(); }

std::vector<Workload> parse_workloads(const TrainConfig& config) {
  std::vector<Workload> workloads;
  for (const std::string& name : config.workloads) {
    const Workload w = find_workload(name);
    EMBER_USAGE_CHECK(std::none_of(workloads.begin(), workloads.end(), [&](const Workload& o) { return o.name == name; }),
                      "--workload {} is given twice", name);
    EMBER_USAGE_CHECK(w.kind != WorkloadKind::Cifar || (config.data != "auto" && !is_synthetic_spec(config.data)),
                      "--workload {} trains on CIFAR-10: give its folder with --data DIR", name);
    EMBER_USAGE_CHECK(w.kind != WorkloadKind::Function || (config.shift.empty() && config.classes.empty() &&
                                                           config.weights.empty()),
                      "--workload {} is a 2-D test function: --shift, --classes and --weights do not apply", name);
    workloads.push_back(w);
  }
  return workloads;
}

TrainConfig workload_config(const TrainConfig& config, const Workload& workload, const std::string& out) {
  TrainConfig c = config;
  c.workloads.clear();
  c.out = out;
  if (workload.kind == WorkloadKind::Cifar) c.arch = workload.arch;
  // The synthetic task: --data's synthetic spec when it is one (its sizes), else the default.
  if (workload.kind == WorkloadKind::Synthetic && !is_synthetic_spec(config.data)) c.data = "synthetic";
  return c;
}

}  // namespace ember::train
