// ember-train's checkpoint: ONE safetensors file per run folder, written atomically at every
// epoch end, when an optimiser finishes and on Ctrl-C. It holds the model being trained
// ("model.<name>", parameters and buffers), its optimiser's state ("optimizer.<name>"), and
// as metadata the run state (configuration, every history and epoch row so far, finished
// optimisers' results, the exact position and partial sums) and the optimiser's metadata.
// One file means one atomic rename: a checkpoint is never half old, half new.
#pragma once

#include <string>

#include "apps/ember-train/run_state.h"
#include "nn/module.h"
#include "nn/safetensors.h"
#include "optim/optimizer.h"

namespace ember::train {

// model and optimizer_state may be null (between optimisers: nothing in training). The
// optimiser's state dict, not the optimiser: under ZeRO-1 it is gathered from the ranks.
void save_run_checkpoint(const std::string& path, const RunState& state, const nn::Module* model,
                         const optim::StateDict* optimizer_state);

// The checkpoint file of a run folder.
std::string checkpoint_path(const std::string& out_dir);

struct LoadedCheckpoint {
  RunState state;
  nn::SafetensorsContents contents;
  bool has_training_state() const;  // model and optimiser tensors present
};
// Reads and validates a checkpoint: the file, the run state (run_state_from_json) and that a
// model is saved exactly when the state is inside a run. Any problem is an ember::Error of
// one printable line naming the file.
LoadedCheckpoint load_run_checkpoint(const std::string& path);

// Loads the checkpoint's model and optimiser tensors into freshly built ones.
void restore_training_state(const nn::SafetensorsContents& contents, nn::Module& model, optim::Optimizer& optimizer);

}  // namespace ember::train
