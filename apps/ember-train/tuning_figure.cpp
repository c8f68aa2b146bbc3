#include "apps/ember-train/tuning_figure.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "apps/common/gnuplot.h"
#include "apps/ember-train/plots.h"
#include "core/error.h"

namespace ember::train {

std::string draw_tuning_figure(const std::string& out_dir, const std::vector<TrialOutcome>& outcomes) {
  const std::string missing = apps::gnuplot_missing_reason();
  if (!missing.empty()) return missing;
  std::vector<PlotSeries> trials, selected;
  for (const TrialOutcome& o : outcomes) {
    auto it = std::find_if(trials.begin(), trials.end(), [&](const PlotSeries& s) { return s.label == o.base; });
    if (it == trials.end()) {
      const int color = static_cast<int>(trials.size()) + 1;
      trials.push_back({o.base, {}, {}, {}, {}, "points pt 7 ps 1.2", color});
      selected.push_back({o.base + ": selected", {}, {}, {}, {}, "points pt 6 ps 3", color});
      it = trials.end() - 1;
    }
    const double lr = o.trial.values.empty() ? kNaN : o.trial.values.front().second;  // lr is always first
    it->x.push_back(lr);
    it->y.push_back(o.diverged ? kNaN : o.validation_accuracy);
    if (o.selected) selected[it - trials.begin()].x.push_back(lr), selected[it - trials.begin()].y.push_back(o.validation_accuracy);
  }
  trials.insert(trials.end(), selected.begin(), selected.end());
  const std::string path = (std::filesystem::path(out_dir) / "tuning.png").string();
  try {
    apps::run_gnuplot(fmt::format("set terminal pngcairo size 900,650\nset output {}\nset termoption noenhanced\n"
                                  "set grid\nset key below\nset logscale x\n",
                                  apps::gnuplot_quote(path)) +
                          gnuplot_datablocks(trials, 0) +
                          "set title 'Every trial: final validation accuracy against learning rate (diverged: not "
                          "shown)'\nset xlabel 'Learning rate'\nset ylabel 'Validation accuracy'\n" +
                          gnuplot_plot(trials, 0),
                      "tuning.png");
  } catch (const Error& e) {
    return e.message();
  }
  return "";
}

}  // namespace ember::train
