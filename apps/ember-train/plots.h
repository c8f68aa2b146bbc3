// The figures of ember-train, drawn with gnuplot from the recorded rows:
//   training_metrics.png  the seed's figure: two panels (training loss, training accuracy),
//                         moving average over 5 logged points, one line per optimiser
//   test_accuracy.png     test accuracy after each epoch, one line per optimiser
#pragma once

#include <string>
#include <vector>

#include "apps/ember-train/history.h"

namespace ember::train {

struct PlotSeries {
  std::string label;           // legend text
  std::vector<double> x, y;    // non-finite points are dropped
};

// Draws into out_dir. Returns what went wrong, one line each (gnuplot missing or failing):
// figures are a convenience, so the run goes on and its CSVs stay the record.
std::vector<std::string> draw_training_plots(const std::string& out_dir, const std::vector<std::string>& optimizers,
                                             const std::vector<HistoryRow>& history,
                                             const std::vector<EpochRow>& epochs);

// A gnuplot `plot` command over the inline data blocks $d<first_block>, $d<first_block+1>,
// ... holding the series. `style` e.g. "lines" or "linespoints".
std::string gnuplot_series(const std::vector<PlotSeries>& series, const std::string& style, size_t first_block);

}  // namespace ember::train
