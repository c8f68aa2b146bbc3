#include "apps/ember-train/plots.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "apps/common/gnuplot.h"
#include "apps/ember-train/summary.h"
#include "core/error.h"

namespace ember::train {

namespace {

constexpr int kSmoothingWindow = 5;  // the seed's moving-average window

bool has_point(const PlotSeries& s) {
  for (size_t j = 0; j < s.y.size() && j < s.x.size(); ++j)
    if (std::isfinite(s.x[j]) && std::isfinite(s.y[j])) return true;
  return false;
}

std::string header(const std::string& out_dir, const std::string& file, int width, int height) {
  const std::string path = (std::filesystem::path(out_dir) / file).string();
  return fmt::format("set terminal pngcairo size {},{}\nset output {}\nset termoption noenhanced\nset grid\n"
                     "set key below\nset style fill transparent solid 0.2 noborder\n",
                     width, height, apps::gnuplot_quote(path));
}

std::vector<Group> groups_of(const RunState& s) { return group_results(s.results); }

// Per group, the values of `rows` (epoch rows of each repeat) picked by `value`.
template <class F>
std::vector<std::vector<double>> per_repeat(const RunState& s, const Group& g, F value) {
  std::vector<std::vector<double>> runs;
  for (const RunResult* r : g.runs) {
    std::vector<double> v;
    for (const EpochRow& e : s.epochs)
      if (e.optimizer == r->optimizer && e.repeat == r->repeat) v.push_back(value(e));
    runs.push_back(v);
  }
  return runs;
}

std::vector<double> epochs_axis(size_t n) {
  std::vector<double> x;
  for (size_t i = 0; i < n; ++i) x.push_back(static_cast<double>(i + 1));
  return x;
}

size_t longest(const std::vector<std::vector<double>>& runs) {
  size_t n = 0;
  for (const auto& r : runs) n = std::max(n, r.size());
  return n;
}

std::string band_note(const RunState& s) {
  return s.config.repeats > 1 ? fmt::format(" (mean of {} repeats, band: min to max)", s.config.repeats) : "";
}

void draw_training(const std::string& out, const RunState& s) {
  std::vector<PlotSeries> loss, accuracy;
  for (const Group& g : groups_of(s)) {
    std::vector<std::vector<double>> l, a;
    for (const RunResult* r : g.runs) {
      std::vector<double> lr, ar;
      for (const HistoryRow& h : s.history)
        if (h.optimizer == r->optimizer && h.repeat == r->repeat) lr.push_back(h.loss), ar.push_back(h.accuracy);
      l.push_back(moving_average(lr, kSmoothingWindow));
      a.push_back(moving_average(ar, kSmoothingWindow));
    }
    std::vector<double> x;
    for (size_t i = 0; i < longest(l); ++i) x.push_back(static_cast<double>(i));
    loss.push_back(band(g.label, x, l));
    accuracy.push_back(band(g.label, x, a));
  }
  const std::string script = header(out, "training_metrics.png", 1500, 560) + gnuplot_datablocks(loss, 0) +
                             gnuplot_datablocks(accuracy, loss.size()) + "set multiplot layout 1,2\n" +
                             fmt::format("set title 'Training Loss (Moving Average){}'\n", band_note(s)) +
                             "set xlabel 'Batches (averaged)'\nset ylabel 'Loss'\n" + gnuplot_plot(loss, 0) +
                             fmt::format("set title 'Training Accuracy (Moving Average){}'\n", band_note(s)) +
                             "set ylabel 'Accuracy'\n" + gnuplot_plot(accuracy, loss.size()) + "unset multiplot\n";
  apps::run_gnuplot(script, "training_metrics.png");
}

std::string epoch_tics(const RunState& s) { return s.config.epochs <= 20 ? "set xtics 1\n" : ""; }

void draw_test_accuracy(const std::string& out, const RunState& s) {
  std::vector<PlotSeries> series;
  for (const Group& g : groups_of(s)) {
    const auto runs = per_repeat(s, g, [](const EpochRow& e) { return e.test_accuracy; });
    series.push_back(band(g.label, epochs_axis(longest(runs)), runs));
    series.back().style = "linespoints";
  }
  apps::run_gnuplot(header(out, "test_accuracy.png", 900, 650) + gnuplot_datablocks(series, 0) +
                        fmt::format("set title 'Test accuracy after each epoch{}'\n", band_note(s)) +
                        "set xlabel 'Epoch'\nset ylabel 'Test accuracy'\n" + epoch_tics(s) + gnuplot_plot(series, 0),
                    "test_accuracy.png");
}

void draw_energy(const std::string& out, const RunState& s) {
  bool energy = !s.results.empty();
  for (const EpochRow& e : s.epochs) energy = energy && std::isfinite(e.joules);
  std::vector<PlotSeries> series;
  for (const Group& g : groups_of(s)) {
    const auto acc = per_repeat(s, g, [](const EpochRow& e) { return e.test_accuracy; });
    const auto cost = per_repeat(s, g, [&](const EpochRow& e) { return energy ? e.joules : e.train_seconds; });
    PlotSeries x_mean = band(g.label, epochs_axis(longest(cost)), cost);
    PlotSeries line = band(g.label, x_mean.y, acc);
    line.lo.clear();
    line.hi.clear();
    line.style = "linespoints";
    series.push_back(line);
  }
  const std::string source = s.results.empty() ? "" : s.results.front().energy_source;
  const std::string title = energy ? fmt::format("Test accuracy against energy ({})", source)
                                   : fmt::format("Test accuracy against training time (energy {})", source);
  apps::run_gnuplot(header(out, "energy.png", 900, 650) + gnuplot_datablocks(series, 0) +
                        fmt::format("set title {}\nset xlabel '{}'\nset ylabel 'Test accuracy'\n",
                                    apps::gnuplot_quote(title), energy ? "Joules" : "Seconds of training") +
                        gnuplot_plot(series, 0),
                    "energy.png");
}

void draw_sweep(const std::string& out, const RunState& s) {
  std::vector<PlotSeries> series, best;
  const auto best_lrs = best_learning_rates(s.results);
  for (size_t k = 0; k < best_lrs.size(); ++k) {
    const std::string& base = best_lrs[k].first;
    PlotSeries line{base, {}, {}, {}, {}, "linespoints", static_cast<int>(k + 1)};
    PlotSeries mark{fmt::format("best lr {:.3g}", best_lrs[k].second), {}, {}, {}, {}, "points pt 7 ps 2",
                    static_cast<int>(k + 1)};
    for (const Group& g : group_results(s.results)) {
      if (g.base != base) continue;
      bool diverged = false;
      std::vector<double> acc;
      for (const RunResult* r : g.runs) diverged |= r->diverged, acc.push_back(r->final_test_accuracy);
      line.x.push_back(g.lr);
      line.y.push_back(diverged ? kNaN : mean_std(acc).first);  // diverged: a gap in the line
      if (g.lr == best_lrs[k].second) mark.x.push_back(g.lr), mark.y.push_back(line.y.back());
    }
    series.push_back(line);
    best.push_back(mark);
  }
  series.insert(series.end(), best.begin(), best.end());
  apps::run_gnuplot(header(out, "sweep.png", 900, 650) + gnuplot_datablocks(series, 0) +
                        fmt::format("set title 'Final test accuracy against learning rate{}'\n", band_note(s)) +
                        "set logscale x\nset xlabel 'Learning rate'\nset ylabel 'Final test accuracy'\n" +
                        gnuplot_plot(series, 0),
                    "sweep.png");
}

void draw_shift(const std::string& out, const RunState& s, const Shift& shift) {
  std::vector<PlotSeries> series;
  int color = 1;
  for (const Group& g : groups_of(s)) {
    if (shift.kind == ShiftKind::Classes) {
      const auto low = per_repeat(s, g, [](const EpochRow& e) { return e.test_accuracy_low; });
      const auto high = per_repeat(s, g, [](const EpochRow& e) { return e.test_accuracy_high; });
      series.push_back(band(g.label + " (classes 0-4)", epochs_axis(longest(low)), low));
      series.back().style = "linespoints dt 2";
      series.back().color = color;
      series.push_back(band(g.label + " (classes 5-9)", epochs_axis(longest(high)), high));
      series.back().style = "linespoints";
      series.back().color = color++;
    } else {
      // The accuracy on the permuted labels just before training on them sits on the shift
      // line, so the drop and the recovery both show.
      auto acc = per_repeat(s, g, [](const EpochRow& e) { return e.test_accuracy; });
      std::vector<double> x = epochs_axis(longest(acc));
      const size_t at = static_cast<size_t>(shift.epoch - 1);
      if (at <= x.size()) {
        x.insert(x.begin() + at, shift.epoch - 0.5);
        for (size_t k = 0; k < acc.size(); ++k)
          if (at <= acc[k].size()) acc[k].insert(acc[k].begin() + at, g.runs[k]->accuracy_after_shift);
      }
      series.push_back(band(g.label, x, acc));
      series.back().style = "linespoints";
      series.back().color = color++;
    }
  }
  const std::string what = shift.kind == ShiftKind::Labels ? "labels permuted" : "classes 0-4, then 5-9";
  apps::run_gnuplot(
      header(out, "shift.png", 900, 650) + gnuplot_datablocks(series, 0) +
          fmt::format("set title 'Test accuracy across the shift ({} from epoch {}){}'\n", what, shift.epoch,
                      band_note(s)) +
          fmt::format("set arrow from {},graph 0 to {},graph 1 nohead dt 3 lw 2\n", shift.epoch - 0.5,
                      shift.epoch - 0.5) +
          "set xlabel 'Epoch'\nset ylabel 'Test accuracy'\n" + epoch_tics(s) + gnuplot_plot(series, 0),
      "shift.png");
}

}  // namespace

PlotSeries band(const std::string& label, const std::vector<double>& x, const std::vector<std::vector<double>>& runs) {
  PlotSeries s{label, {}, {}, {}, {}};
  size_t n = x.size();
  for (const auto& r : runs) n = std::min(n, r.size());
  for (size_t i = 0; i < n; ++i) {
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    bool finite = true;
    for (const auto& r : runs) {
      finite = finite && std::isfinite(r[i]);
      sum += r[i];
      lo = std::min(lo, r[i]);
      hi = std::max(hi, r[i]);
    }
    s.x.push_back(x[i]);
    s.y.push_back(finite ? sum / runs.size() : kNaN);
    s.lo.push_back(finite ? lo : kNaN);
    s.hi.push_back(finite ? hi : kNaN);
  }
  if (runs.size() < 2) s.lo.clear(), s.hi.clear();
  return s;
}

std::string gnuplot_datablocks(const std::vector<PlotSeries>& series, size_t first_block) {
  std::string out;
  for (size_t i = 0; i < series.size(); ++i) {
    const PlotSeries& s = series[i];
    out += fmt::format("$d{} << EOD\n", first_block + i);
    for (size_t j = 0; j < s.x.size() && j < s.y.size(); ++j) {
      if (!std::isfinite(s.x[j]) || !std::isfinite(s.y[j])) continue;
      out += s.lo.empty() ? fmt::format("{:.9g} {:.9g}\n", s.x[j], s.y[j])
                          : fmt::format("{:.9g} {:.9g} {:.9g} {:.9g}\n", s.x[j], s.y[j], s.lo[j], s.hi[j]);
    }
    out += "EOD\n";
  }
  return out;
}

std::string gnuplot_plot(const std::vector<PlotSeries>& series, size_t first_block) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < series.size(); ++i) {
    const PlotSeries& s = series[i];
    if (!has_point(s)) continue;  // gnuplot refuses an empty block
    const int color = s.color > 0 ? s.color : static_cast<int>(i) + 1;
    if (!s.lo.empty())
      parts.push_back(fmt::format("$d{} using 1:3:4 with filledcurves lc {} notitle", first_block + i, color));
    parts.push_back(fmt::format("$d{} using 1:2 with {} lw 2 lc {} title {}", first_block + i, s.style, color,
                                apps::gnuplot_quote(s.label)));
  }
  // Nothing to draw (every run diverged at once, or too few points to smooth): an empty
  // frame rather than an error.
  if (parts.empty())
    return "set xrange [0:1]\nset yrange [0:1]\nset label 1 'no points' at graph 0.5,0.5 center\n"
           "plot NaN notitle\nunset label 1\nset autoscale\n";
  std::string cmd = "plot ";
  for (size_t i = 0; i < parts.size(); ++i) cmd += (i ? ", " : "") + parts[i];
  return cmd + "\n";
}

std::vector<std::string> draw_all_plots(const std::string& out_dir, const RunState& state, const Shift& shift) {
  const std::string missing = apps::gnuplot_missing_reason();
  if (!missing.empty()) return {missing};
  std::vector<std::string> problems;
  auto attempt = [&](auto draw) {
    try {
      draw();
    } catch (const Error& e) {
      problems.push_back(e.message());
    }
  };
  attempt([&] { draw_training(out_dir, state); });
  attempt([&] { draw_test_accuracy(out_dir, state); });
  attempt([&] { draw_energy(out_dir, state); });
  if (!state.config.sweep.empty()) attempt([&] { draw_sweep(out_dir, state); });
  if (shift.kind != ShiftKind::None) attempt([&] { draw_shift(out_dir, state, shift); });
  return problems;
}

}  // namespace ember::train
