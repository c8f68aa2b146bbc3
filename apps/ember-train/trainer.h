// Training one optimiser of the comparison, epoch by epoch, from a fresh start or from a
// checkpoint, appending its history and epoch rows to the run state.
#pragma once

#include <functional>
#include <string>

#include "apps/common/progress.h"
#include "apps/ember-train/run_state.h"
#include "core/device.h"
#include "data/dataset.h"
#include "nn/safetensors.h"

namespace ember::train {

struct TrainContext {
  const TrainConfig& config;
  Device device;
  const data::DataSplits& data;
  RunState& state;
  apps::ProgressLine& progress;
  std::string out_dir;
  // Polled after every step: true asks for a checkpoint and a clean stop (Ctrl-C).
  std::function<bool()> stop_requested;
};

enum class Outcome { Finished, Interrupted };

// Trains optimiser state.progress.optimizer. `resume` holds the checkpoint's tensors when
// continuing inside this optimiser (nullptr: start it fresh).
Outcome train_optimizer(TrainContext& ctx, const nn::SafetensorsContents* resume);

// The checkpoint file of a run folder.
std::string checkpoint_path(const std::string& out_dir);

}  // namespace ember::train
