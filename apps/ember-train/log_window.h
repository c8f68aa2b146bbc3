// The training loss and accuracy of one run, as the seed records them: averaged over windows
// of --log-every batches. The sums of the open window stay on the device (no step waits for
// the host); a closed window is copied back asynchronously and read one window later, when
// it becomes a history row and joins the epoch's sums. A partial window at an epoch's end
// counts for the epoch only, not as a history point (the seed's running sums restart each
// epoch). A non-finite loss sum marks the run as diverged.
#pragma once

#include <string>

#include "apps/ember-train/run_state.h"
#include "core/readback.h"
#include "core/tensor.h"

namespace ember::train {

class LogWindows {
 public:
  // Sums go into `progress` (the open window's counters, the epoch's sums) and history rows
  // into `record` (named by record.result's optimizer and repeat). The open window starts
  // from progress's saved sums (a resumed run continues them exactly).
  LogWindows(Device device, int log_every, Progress& progress, RunRecord& record);

  // One training batch: adds its mean loss, accuracy and correct count to the open window.
  void add(const Tensor& loss, const Tensor& logits, const Tensor& labels);
  // The same from the batch's mean loss and correct count (scalars on the device) and its
  // rows (a data-parallel step's global figures, apps/ember-train/data_parallel.h).
  void add_counts(const Tensor& loss, const Tensor& correct, int64_t rows);
  bool is_full() const;  // the open window has --log-every batches
  // Closes the open window, which ended at `global_batch` (1-based, across epochs), sends it
  // to the host and opens the next. `history`: a full window, to become a history row.
  void close(bool history, int64_t global_batch);
  // Folds the window on its way to the host (if any) into the sums; waits for its copy.
  void drain();
  // drain(), then the open window's exact sums into progress, for a checkpoint mid-epoch.
  void save_open();

  const std::string& diverged_at() const { return diverged_at_; }  // "epoch 3, batch 120", or ""
  // Of the last history row: NaN before the first.
  double last_loss() const { return last_loss_; }
  double last_accuracy() const { return last_accuracy_; }

 private:
  // A closed window on its way to the host, and what it becomes there.
  struct Closed {
    bool history = false;
    int batches = 0;
    int epoch = 0;  // 1-based
    int64_t global_batch = 0, epoch_batch = 0, images_seen = 0;
  };
  void fold(const std::vector<double>& sums, const Closed& w);
  void reset_open();

  int log_every_;
  Progress& progress_;
  RunRecord& record_;
  Tensor loss_, accuracy_, correct_;  // the open window: float64, float64, int64 scalars
  AsyncReadback readback_;
  Closed closed_;
  std::string diverged_at_;
  double last_loss_ = kNaN, last_accuracy_ = kNaN;
};

}  // namespace ember::train
