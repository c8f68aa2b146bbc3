#include "apps/ember-train/data_plan.h"

#include <fmt/format.h>

#include "core/error.h"

namespace ember::train {

namespace {

data::Dataset only(const data::Dataset& d, const std::vector<int64_t>& classes) {
  return data::select(d, data::indices_of_classes(d, classes));
}

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

}  // namespace

DataPlan make_data_plan(const data::DataSplits& splits, const TrainConfig& c) {
  DataPlan plan;
  plan.shift = c.parsed.shift;
  data::Dataset train = splits.train, test = splits.test;
  if (!c.parsed.classes.empty()) {
    const std::vector<int64_t>& classes = c.parsed.classes;
    train = only(train, classes);
    test = only(test, classes);
    plan.description = fmt::format("classes {} only: {} train, {} test images", join(classes), train.size(), test.size());
  }
  if (c.tune > 0) {
    const int64_t n = train.size(), held = n / 10;
    EMBER_USAGE_CHECK(held >= 8 && n - held >= 8,
                      "--tune holds out a tenth of the {} training images as validation: at least 80 are needed", n);
    std::vector<int64_t> keep, hold;
    for (int64_t i = 0; i < n; ++i) (i < n - held ? keep : hold).push_back(i);
    plan.validation = data::select(train, hold);
    train = data::select(train, keep);
    plan.description += fmt::format("{}validation: the last {} training images held out ({} trained on)",
                                    plan.description.empty() ? "" : "; ", held, train.size());
  }
  plan.train_before = plan.train_after = train;
  plan.test_before = plan.test_after = test;
  if (plan.shift.kind == ShiftKind::Labels) {
    // One permutation for the whole comparison (from --seed, not the repeat's seed), so
    // every run sees the same shift.
    plan.permutation = shift_permutation(c.seed);
    plan.train_after = data::map_labels(train, plan.permutation);
    plan.test_after = data::map_labels(test, plan.permutation);
    plan.description = fmt::format("labels permuted from epoch {} on (label i becomes [{}][i])", plan.shift.epoch,
                                   join(plan.permutation));
  } else if (plan.shift.kind == ShiftKind::Classes) {
    plan.train_before = only(train, {0, 1, 2, 3, 4});
    plan.train_after = only(train, {5, 6, 7, 8, 9});
    plan.test_low = only(test, {0, 1, 2, 3, 4});
    plan.test_high = only(test, {5, 6, 7, 8, 9});
    plan.description = fmt::format("classes 0-4 ({} train images) before epoch {}, classes 5-9 ({}) from it on; "
                                   "test accuracy on both halves every epoch",
                                   plan.train_before.size(), plan.shift.epoch, plan.train_after.size());
  }
  return plan;
}

}  // namespace ember::train
