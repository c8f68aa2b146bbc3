// Everything an ember-train run has produced and where it is: enough to write every output
// file, and (with the model and optimiser tensors) to resume an interrupted run exactly.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/ember-train/config.h"
#include "apps/ember-train/history.h"

namespace ember::train {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct OptimizerResult {
  std::string optimizer;  // the spec as given
  std::string canonical;  // every hyperparameter spelled out
  bool finished = false;  // all epochs run (or stopped by divergence)
  bool diverged = false;
  std::string diverged_at;  // "epoch 3, batch 120" when diverged
  int epochs_done = 0;
  double final_test_accuracy = kNaN, best_test_accuracy = kNaN;
  double train_seconds = 0;      // training only (evaluation excluded)
  double wall_seconds = 0;       // training + evaluation
  int64_t images_seen = 0;
  double images_per_second = 0;  // training images / training seconds
  int64_t parameters = 0, trainable_parameters = 0;
  int64_t state_bytes = 0;
  int64_t peak_device_bytes = 0;
};

// Position inside the optimiser being trained, with the partial sums of the current epoch
// and log window (exact float64 values, so a resumed run continues bit for bit).
struct Progress {
  int optimizer = 0;      // index into the optimiser list
  int epoch = 0;          // 0-based epoch in progress
  int64_t batch = 0;      // next batch index within the epoch
  int64_t step = 0;       // optimiser steps taken by this optimiser
  int64_t images_seen = 0;
  double epoch_loss_sum = 0, epoch_accuracy_sum = 0;  // sums of per-batch means
  int64_t epoch_batches = 0, epoch_images = 0, epoch_correct = 0;
  double window_loss_sum = 0, window_accuracy_sum = 0;
  int window_batches = 0;
  double epoch_seconds = 0;  // training time of this epoch so far
  double train_seconds = 0, wall_seconds = 0;  // of this optimiser so far
  double best_test_accuracy = kNaN;
};

struct RunState {
  TrainConfig config;
  std::string data_description;
  std::vector<HistoryRow> history;
  std::vector<EpochRow> epochs;
  std::vector<OptimizerResult> results;  // one per optimiser that has started
  Progress progress;
};

nlohmann::json to_json(const RunState& state);
RunState run_state_from_json(const nlohmann::json& j);

}  // namespace ember::train
