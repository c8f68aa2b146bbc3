// The data each epoch of a run trains and is tested on: the loaded splits, narrowed by
// --classes, and changed from the shift epoch on by --shift (labels permuted, or the other
// half of the classes).
#pragma once

#include <string>

#include "apps/ember-train/config.h"
#include "apps/ember-train/runs.h"
#include "data/dataset.h"

namespace ember::train {

struct DataPlan {
  Shift shift;
  data::Dataset train_before, test_before;  // every epoch when there is no shift
  data::Dataset train_after, test_after;    // from shift.epoch on
  // --shift E:classes: the test set's halves (classes 0-4 and 5-9), tested every epoch.
  data::Dataset test_low, test_high;
  // --tune: the last tenth of the training set, held out (not trained on) and evaluated every
  // epoch; the best trial is chosen by it, never by the test set. Empty without --tune.
  data::Dataset validation;
  std::vector<int64_t> permutation;         // --shift E:labels: label -> shifted label
  std::string description;                  // what the shift and --classes do, in a line ("" if nothing)

  // 0 before the shift, 1 from it on (epoch is 0-based).
  int phase(int epoch) const { return shift.kind != ShiftKind::None && epoch + 1 >= shift.epoch ? 1 : 0; }
  const data::Dataset& train(int epoch) const { return phase(epoch) ? train_after : train_before; }
  const data::Dataset& test(int epoch) const { return phase(epoch) ? test_after : test_before; }
};

// `config` validated (its parsed shift and classes).
DataPlan make_data_plan(const data::DataSplits& splits, const TrainConfig& config);

}  // namespace ember::train
