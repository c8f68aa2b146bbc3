// A whole ember-train run: every optimiser in turn from the same initial weights, then the
// output files (history.csv, epochs.csv, summary.json, training_metrics.png,
// test_accuracy.png) in the output folder.
#pragma once

#include "apps/ember-train/config.h"

namespace ember::train {

// Runs (or with config.resume, continues) the comparison. Returns the exit code: 0, or 130
// when stopped by Ctrl-C after writing a checkpoint. Errors are exceptions (ember::Error,
// UsageError) for the caller's run_main.
int run_comparison(TrainConfig config);

// Test hook: behave as if Ctrl-C came after this many optimiser steps in total (0: never).
void stop_after_steps(int64_t steps);
// Test hook: the process of rank `rank` (0 when not launched) kills itself with SIGKILL after
// this many optimiser steps, as a crashed or killed node would stop (0: never).
void kill_after_steps(int rank, int64_t steps);

}  // namespace ember::train
