// summary.json and the end-of-run table.
#pragma once

#include <string>

#include "apps/ember-train/run_state.h"
#include "core/device.h"

namespace ember::train {

// The whole configuration, device name, ember commit, data description, and per optimiser:
// final and best test accuracy, times, images/s, optimiser state bytes (also per parameter,
// and parameters + gradients + state as a multiple of the parameters alone), peak device
// memory, diverged.
void write_summary(const std::string& path, const RunState& state, Device device);
std::string format_results_table(const RunState& state);
// The git commit of the source tree ember was built from, or "unknown".
std::string ember_commit();

}  // namespace ember::train
