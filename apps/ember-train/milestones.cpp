#include "apps/ember-train/milestones.h"

#include <cmath>

namespace ember::train {

void record_milestones(const TrainConfig& c, RunRecord& run, double shifted_accuracy) {
  const EpochRow& row = run.epochs.back();
  RunResult& r = run.result;
  if (c.target_accuracy > 0 && r.images_to_target < 0 && row.test_accuracy >= c.target_accuracy) {
    r.images_to_target = row.images_seen;
    r.seconds_to_target = row.train_seconds;
    r.joules_to_target = row.joules;
  }
  const Shift& shift = c.parsed.shift;
  if (shift.kind == ShiftKind::None) return;
  const int e = shift.epoch;  // the first shifted epoch (1-based)
  // Labels: the same test set relabelled, so "accuracy" is the current task's. Classes: the
  // half being trained (0-4 before the shift, 5-9 after).
  const double acc = shift.kind == ShiftKind::Classes
                         ? (row.epoch < e ? row.test_accuracy_low : row.test_accuracy_high)
                         : row.test_accuracy;
  if (row.epoch == e - 1) {
    r.accuracy_before_shift = acc;
    r.accuracy_after_shift = shifted_accuracy;
  }
  if (row.epoch >= e && r.images_to_recover < 0 && std::isfinite(r.accuracy_before_shift) &&
      acc >= r.accuracy_before_shift) {
    int64_t images_at_shift = 0;  // images seen when the shift began: end of epoch e - 1
    for (const EpochRow& prev : run.epochs)
      if (prev.epoch == e - 1) images_at_shift = prev.images_seen;
    r.images_to_recover = row.images_seen - images_at_shift;
  }
}

}  // namespace ember::train
