// The milestones of a run, found in its epoch rows as they come: images, seconds and joules
// to --target-accuracy, and with --shift the accuracy before and just after the shift and
// the images it took to get back.
#pragma once

#include "apps/ember-train/config.h"
#include "apps/ember-train/run_state.h"

namespace ember::train {

// After each evaluation, whose row is run.epochs.back(), into run.result: the images, seconds
// and joules to --target-accuracy at the first epoch that reaches it; with --shift, at the
// last epoch before the shift, the accuracy on the current task (before) and, given as
// `shifted_accuracy`, on the shifted data by the same model (just after: the immediate drop),
// then the images trained after the shift until an evaluation is back at the first.
void record_milestones(const TrainConfig& config, RunRecord& run, double shifted_accuracy);

}  // namespace ember::train
