// The verdict of a comparison: per optimiser (group of repeats) the mean, standard deviation
// and bootstrap 95% interval of final and best test accuracy and of seconds and images to
// --target-accuracy; per pair of optimisers the difference with its interval and a one-line
// verdict (apps/compare/bootstrap.h). Written to summary.json ("statistics"), printed under
// the final table and shown in report.html.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/compare/bootstrap.h"
#include "apps/ember-train/run_state.h"

namespace ember::train {

// One figure of every run of a group, by repeat (NaN where a run has none: diverged, target
// not reached), so that groups with the same repeats pair up.
struct Figure {
  std::string name;  // "final_test_accuracy", ...
  compare::Quantity quantity;
  bool higher_is_better = true;
};
const std::vector<Figure>& compared_figures(bool with_target);

struct GroupStatistics {
  std::string optimizer;  // the group's label (its spec)
  std::vector<std::vector<double>> values;  // per compared figure, per run
  std::vector<compare::Estimate> estimates;  // per compared figure
};

struct PairVerdict {
  std::string a, b;        // a ranked above b
  std::string figure;      // a compared figure's name
  compare::Estimate difference;  // a - b
  std::string line;        // the one-line verdict
};

struct Statistics {
  std::vector<Figure> figures;
  std::vector<GroupStatistics> ranking;  // by mean final test accuracy, best first
  std::vector<PairVerdict> verdicts;     // every pair, every figure, in ranking order
};

Statistics compute_statistics(const RunState& state);
nlohmann::json statistics_json(const Statistics& statistics);
// The ranking with intervals and the verdicts on final test accuracy, for the terminal.
std::string format_statistics(const Statistics& statistics);
// "0.512 [0.498, 0.526]" (or "0.512 (1 run)") in the figure's display units.
std::string format_estimate(const compare::Estimate& estimate, const Figure& figure);

}  // namespace ember::train
