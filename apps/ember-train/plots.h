// The figures of ember-train, drawn with gnuplot from the recorded rows. With --repeats each
// line is the mean over the repeats with a shaded band from their minimum to their maximum.
//   training_metrics.png  the seed's figure: training loss and accuracy, moving average over
//                         5 logged points, one line per optimiser
//   test_accuracy.png     test accuracy after each epoch
//   energy.png            test accuracy against energy used (against seconds, and saying so,
//                         where energy is unavailable)
//   sweep.png             (--sweep) final test accuracy against lr, log x, best lr marked
//   shift.png             (--shift) test accuracy per epoch with the shift marked
#pragma once

#include <string>
#include <vector>

#include "apps/ember-train/run_state.h"
#include "apps/ember-train/runs.h"

namespace ember::train {

struct PlotSeries {
  std::string label;         // legend text
  std::vector<double> x, y;  // non-finite points are dropped
  std::vector<double> lo, hi;  // a band around y (empty: none)
  std::string style = "lines";
  int color = 0;             // gnuplot linetype; 0: the series' position
};

// Mean, minimum and maximum over runs of values aligned by index (the shortest run bounds).
PlotSeries band(const std::string& label, const std::vector<double>& x, const std::vector<std::vector<double>>& runs);

// One gnuplot plot command over inline data blocks $d<first_block + i> holding the series.
std::string gnuplot_plot(const std::vector<PlotSeries>& series, size_t first_block);
std::string gnuplot_datablocks(const std::vector<PlotSeries>& series, size_t first_block);

// Draws every figure that applies into out_dir. Returns what went wrong, one line each
// (gnuplot missing or failing): figures are a convenience, the CSVs stay the record.
std::vector<std::string> draw_all_plots(const std::string& out_dir, const RunState& state, const Shift& shift);

}  // namespace ember::train
