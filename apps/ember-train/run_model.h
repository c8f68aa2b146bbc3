// What one run trains: the model (--arch, --weights, --precision, --channels-last,
// --freeze-backbone), the parameters its optimiser gets, and its learning-rate schedule.
#pragma once

#include <memory>
#include <string>

#include "apps/ember-train/config.h"
#include "nn/resnet.h"
#include "optim/flat_parameters.h"
#include "optim/lr_schedule.h"

namespace ember::train {

// The same seed gives the same initial weights for every optimiser (and on every device).
std::unique_ptr<nn::ResNet18> build_model(const TrainConfig& config, uint64_t seed, Device device);

// Only trainable parameters go into the flat buffers, so that optimiser state exists for
// them alone (--freeze-backbone: for fc only).
optim::NamedParameters trainable(const nn::Module& model);

// The schedule of --lr-schedule and --warmup-epochs (epochs of `steps_per_epoch` steps), or
// nullptr for a constant lr without warm-up.
std::unique_ptr<optim::LrSchedule> make_schedule(const TrainConfig& config, int64_t steps_per_epoch);

// --weights: loads every tensor of the model's state_dict by name from `path` (fc.* skipped
// with reset_fc). A missing file is an Error; a missing name or a wrong shape is an Error
// naming it.
void load_initial_weights(nn::Module& model, const std::string& path, bool reset_fc);

}  // namespace ember::train
