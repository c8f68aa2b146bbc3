// tuning.png: every trial of a tuned comparison, validation accuracy against its learning
// rate (log x), one colour per optimiser, each optimiser's selected trial ringed.
#pragma once

#include <string>
#include <vector>

#include "apps/ember-train/tuning.h"

namespace ember::train {

// Draws <out_dir>/tuning.png. Returns "" or what went wrong (gnuplot missing or failing), one line.
std::string draw_tuning_figure(const std::string& out_dir, const std::vector<TrialOutcome>& outcomes);

}  // namespace ember::train
