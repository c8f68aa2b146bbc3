#include "apps/ember-train/plots.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "apps/common/gnuplot.h"
#include "core/error.h"

namespace ember::train {

namespace {

constexpr int kSmoothingWindow = 5;  // the seed's moving-average window

// Inline gnuplot data blocks $d<first_block + i>, one per series.
std::string datablocks(const std::vector<PlotSeries>& series, size_t first_block) {
  std::string out;
  for (size_t i = 0; i < series.size(); ++i) {
    out += fmt::format("$d{} << EOD\n", first_block + i);
    for (size_t j = 0; j < series[i].x.size(); ++j)
      if (std::isfinite(series[i].x[j]) && std::isfinite(series[i].y[j]))
        out += fmt::format("{:.9g} {:.9g}\n", series[i].x[j], series[i].y[j]);
    out += "EOD\n";
  }
  return out;
}

PlotSeries smoothed(const std::string& label, const std::vector<double>& values) {
  PlotSeries s{label, {}, moving_average(values, kSmoothingWindow)};
  for (size_t i = 0; i < s.y.size(); ++i) s.x.push_back(static_cast<double>(i));
  return s;
}

}  // namespace

std::string gnuplot_series(const std::vector<PlotSeries>& series, const std::string& style, size_t first_block) {
  std::string cmd = "plot ";
  bool any = false;
  for (size_t i = 0; i < series.size(); ++i) {
    bool has_point = false;
    for (size_t j = 0; j < series[i].y.size(); ++j) has_point |= std::isfinite(series[i].y[j]);
    if (!has_point) continue;  // gnuplot refuses an empty block
    cmd += fmt::format("{}$d{} using 1:2 with {} lw 2 title {}", any ? ", " : "", first_block + i, style,
                       apps::gnuplot_quote(series[i].label));
    any = true;
  }
  // Nothing to draw (every run diverged at once): an empty frame rather than an error.
  if (!any) cmd = "plot NaN notitle";
  return cmd + "\n";
}

std::vector<std::string> draw_training_plots(const std::string& out_dir, const std::vector<std::string>& optimizers,
                                             const std::vector<HistoryRow>& history,
                                             const std::vector<EpochRow>& epochs) {
  const std::string missing = apps::gnuplot_missing_reason();
  if (!missing.empty()) return {missing};
  std::vector<PlotSeries> loss, accuracy, test;
  for (const std::string& name : optimizers) {
    std::vector<double> l, a;
    for (const HistoryRow& r : history)
      if (r.optimizer == name) l.push_back(r.loss), a.push_back(r.accuracy);
    loss.push_back(smoothed(name, l));
    accuracy.push_back(smoothed(name, a));
    PlotSeries t{name, {}, {}};
    for (const EpochRow& e : epochs)
      if (e.optimizer == name) t.x.push_back(e.epoch), t.y.push_back(e.test_accuracy);
    test.push_back(t);
  }
  const std::string common = "set termoption noenhanced\nset grid\nset key below\n";
  int max_epoch = 1;
  for (const EpochRow& e : epochs) max_epoch = std::max(max_epoch, e.epoch);
  const std::string epoch_tics = max_epoch <= 20 ? "set xtics 1\n" : "";
  std::vector<std::string> problems;
  try {
    const std::string path = (std::filesystem::path(out_dir) / "training_metrics.png").string();
    const std::string script =
        fmt::format("set terminal pngcairo size 1500,560\nset output {}\n", apps::gnuplot_quote(path)) + common +
        datablocks(loss, 0) + datablocks(accuracy, loss.size()) + "set multiplot layout 1,2\n" +
        "set title 'Training Loss (Moving Average)'\nset xlabel 'Batches (averaged)'\nset ylabel 'Loss'\n" +
        gnuplot_series(loss, "lines", 0) + "set title 'Training Accuracy (Moving Average)'\nset ylabel 'Accuracy'\n" +
        gnuplot_series(accuracy, "lines", loss.size()) + "unset multiplot\n";
    apps::run_gnuplot(script, "training_metrics.png");
  } catch (const Error& e) {
    problems.push_back(e.message());
  }
  try {
    const std::string path = (std::filesystem::path(out_dir) / "test_accuracy.png").string();
    std::string script = fmt::format("set terminal pngcairo size 900,650\nset output {}\n", apps::gnuplot_quote(path)) +
                         common + datablocks(test, 0) +
                         "set title 'Test accuracy after each epoch'\nset xlabel 'Epoch'\nset ylabel 'Test accuracy'\n" +
                         epoch_tics +
                         gnuplot_series(test, "linespoints", 0);
    apps::run_gnuplot(script, "test_accuracy.png");
  } catch (const Error& e) {
    problems.push_back(e.message());
  }
  return problems;
}

}  // namespace ember::train
