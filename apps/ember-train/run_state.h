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

// The outcome of one run: one optimiser spec, at one learning rate, with one seed.
struct RunResult {
  std::string optimizer;  // the run's spec
  std::string base;       // the spec as given by --optimizer
  std::string canonical;  // every hyperparameter spelled out
  double lr = 0;
  int repeat = 0;
  uint64_t seed = 0;
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
  double energy_joules = kNaN;   // training + evaluation
  std::string energy_source;     // "nvml", "rapl" or "unavailable: <reason>"
  // --cuda-graph: "off", "replayed" (training steps replayed a captured graph), or
  // "eager: <why the capture failed>".
  std::string cuda_graph = "off";
  // --target-accuracy: at the first evaluation that reached it (negative: not reached).
  int64_t images_to_target = -1;
  double seconds_to_target = -1, joules_to_target = -1;
  // --shift: after the last epoch before the shift, the test accuracy on the current data
  // and on the shifted data (the immediate drop); and the images trained after the shift
  // until an evaluation was back at the first (-1: not recovered).
  double accuracy_before_shift = kNaN, accuracy_after_shift = kNaN;
  int64_t images_to_recover = -1;
};

// Position inside the run being trained, with the partial sums of the current epoch and log
// window (exact float64 values, so a resumed run continues bit for bit).
struct Progress {
  int run = 0;            // index into expand_runs(config)
  int epoch = 0;          // 0-based epoch in progress
  int64_t batch = 0;      // next batch index within the epoch
  int64_t step = 0;       // optimiser steps taken by this run
  int64_t images_seen = 0;
  double epoch_loss_sum = 0, epoch_accuracy_sum = 0;  // sums of per-batch means
  int64_t epoch_batches = 0, epoch_images = 0, epoch_correct = 0;
  double window_loss_sum = 0, window_accuracy_sum = 0;
  int window_batches = 0;
  double epoch_seconds = 0;  // training time of this epoch so far
  double train_seconds = 0, wall_seconds = 0;  // of this run so far
  double joules = 0;         // energy of this run so far (before the current process)
  double best_test_accuracy = kNaN;
};

// Everything one run produces: the unit a trainer fills (trainer.h) and the comparison
// gathers into its RunState, whose writer makes the output files from it.
struct RunRecord {
  RunResult result;
  std::vector<HistoryRow> history;
  std::vector<EpochRow> epochs;
};

struct RunState {
  TrainConfig config;
  std::string data_description;
  // The finished runs, in run order: what the output files show.
  std::vector<HistoryRow> history;
  std::vector<EpochRow> epochs;
  std::vector<RunResult> results;
  // The run being trained (progress.run) and where it is. Between runs current is empty,
  // progress is Progress{} with run == results.size(), and the checkpoint holds no model.
  RunRecord current;
  Progress progress;

  // Appends a finished run's rows and result.
  void add(const RunRecord& finished);
  // The finished runs and, after them, the current one (for files written mid-run).
  RunState with_current() const;
};

// One run's record as JSON and back (a checkpoint's "current"; under mpirun each rank sends
// its finished runs to rank 0 so, grid_ranks.h). Errors name `where`.
nlohmann::json to_json(const RunRecord& record);
RunRecord run_record_from_json(const nlohmann::json& j, const std::string& where);

// The run state as saved in a checkpoint: named fields (json_fields.h), doubles that are not
// finite as null.
nlohmann::json to_json(const RunState& state);
// Reads and checks a saved run state: every field present with the right type and range,
// the configuration valid (validate(), so state.config.parsed is filled) and the position
// consistent with it (run index, epoch, the current run's rows). Anything else is an
// ember::Error of one line naming the field; never another exception.
RunState run_state_from_json(const nlohmann::json& j);

}  // namespace ember::train
