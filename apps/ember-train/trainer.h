// Training one run of the comparison (one optimiser spec, learning rate and seed), epoch by
// epoch, from a fresh start or from a checkpoint, appending its history and epoch rows to
// the run state.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "apps/common/progress.h"
#include "apps/ember-train/data_plan.h"
#include "apps/ember-train/run_state.h"
#include "apps/ember-train/runs.h"
#include "core/device.h"
#include "nn/module.h"
#include "nn/safetensors.h"

namespace ember::train {

struct TrainContext {
  const TrainConfig& config;
  const std::vector<RunSpec>& runs;
  Device device;
  const DataPlan& data;
  RunState& state;
  apps::ProgressLine& progress;
  std::string out_dir;
  // Polled after every step: true asks for a checkpoint and a clean stop (Ctrl-C).
  std::function<bool()> stop_requested;
};

enum class Outcome { Finished, Interrupted };

// Trains run state.progress.run. `resume` holds the checkpoint's tensors when continuing
// inside this run (nullptr: start it fresh).
Outcome train_run(TrainContext& ctx, const nn::SafetensorsContents* resume);

// After each evaluation `row` (appended to state.epochs already) of run `r`: the images,
// seconds and joules to --target-accuracy at the first epoch that reaches it; with --shift,
// at the last epoch before the shift, the accuracy on the current task (before) and, given as
// `shifted_accuracy`, on the shifted data by the same model (just after: the immediate drop),
// then the images trained after the shift until an evaluation is back at the first.
void record_milestones(const TrainConfig& config, const DataPlan& plan, const RunState& state, RunResult& r,
                       const EpochRow& row, double shifted_accuracy);

// The checkpoint file of a run folder.
std::string checkpoint_path(const std::string& out_dir);

// --weights: loads every tensor of the model's state_dict by name from `path` (fc.* skipped
// with reset_fc). A missing file is an Error; a missing name or a wrong shape is an Error
// naming it.
void load_initial_weights(nn::Module& model, const std::string& path, bool reset_fc);

}  // namespace ember::train
