#include "apps/ember-train/statistics.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "apps/ember-train/summary.h"

namespace ember::train {

namespace {

nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

double figure_of(const RunResult& r, const std::string& name) {
  if (name == "final_test_accuracy") return r.final_test_accuracy;
  if (name == "best_test_accuracy") return r.best_test_accuracy;
  if (name == "seconds_to_target") return r.images_to_target >= 0 ? r.seconds_to_target : kNaN;
  if (name == "images_to_target") return r.images_to_target >= 0 ? static_cast<double>(r.images_to_target) : kNaN;
  return kNaN;
}

nlohmann::json estimate_json(const compare::Estimate& e) {
  return {{"n", e.n}, {"mean", num(e.mean)}, {"sd", num(e.sd)},
          {"ci95", e.has_interval() ? nlohmann::json::array({num(e.low), num(e.high)}) : nlohmann::json(nullptr)}};
}

}  // namespace

const std::vector<Figure>& compared_figures(bool with_target) {
  static const std::vector<Figure> accuracy = {{"final_test_accuracy", {"points", 100, 1}, true},
                                               {"best_test_accuracy", {"points", 100, 1}, true}};
  static const std::vector<Figure> all = {accuracy[0], accuracy[1], {"seconds_to_target", {"s", 1, 1}, false},
                                          {"images_to_target", {"images", 1, 0}, false}};
  return with_target ? all : accuracy;
}

Statistics compute_statistics(const RunState& state) {
  Statistics s;
  s.figures = compared_figures(state.config.target_accuracy > 0);
  for (const Group& g : group_results(state.results)) {
    GroupStatistics gs{g.label, {}, {}};
    for (const Figure& f : s.figures) {
      std::vector<double> v;
      for (const RunResult* r : g.runs) v.push_back(figure_of(*r, f.name));
      gs.estimates.push_back(compare::estimate(v));
      gs.values.push_back(std::move(v));
    }
    s.ranking.push_back(std::move(gs));
  }
  // Best mean final test accuracy first; groups without one (all diverged) last.
  std::stable_sort(s.ranking.begin(), s.ranking.end(), [](const GroupStatistics& a, const GroupStatistics& b) {
    const double x = a.estimates[0].mean, y = b.estimates[0].mean;
    return std::isfinite(x) && (!std::isfinite(y) || x > y);
  });
  for (size_t i = 0; i < s.ranking.size(); ++i)
    for (size_t j = i + 1; j < s.ranking.size(); ++j)
      for (size_t f = 0; f < s.figures.size(); ++f) {
        PairVerdict v{s.ranking[i].optimizer, s.ranking[j].optimizer, s.figures[f].name,
                      compare::difference(s.ranking[i].values[f], s.ranking[j].values[f]), ""};
        v.line = compare::verdict(v.a, v.b, v.difference, s.figures[f].quantity);
        s.verdicts.push_back(std::move(v));
      }
  return s;
}

nlohmann::json statistics_json(const Statistics& s) {
  nlohmann::json j;
  j["method"] = "percentile bootstrap, 10000 resamples, fixed seed; pairs by repeat when both have the same runs";
  j["level"] = 0.95;
  j["ranking"] = nlohmann::json::array();
  for (const GroupStatistics& g : s.ranking) {
    nlohmann::json o = {{"optimizer", g.optimizer}};
    for (size_t f = 0; f < s.figures.size(); ++f) o[s.figures[f].name] = estimate_json(g.estimates[f]);
    j["ranking"].push_back(o);
  }
  j["pairwise"] = nlohmann::json::array();
  for (const PairVerdict& v : s.verdicts)
    j["pairwise"].push_back({{"a", v.a}, {"b", v.b}, {"figure", v.figure}, {"difference", estimate_json(v.difference)},
                             {"clear", compare::is_clear(v.difference)}, {"verdict", v.line}});
  return j;
}

std::string format_estimate(const compare::Estimate& e, const Figure& f) {
  const double k = f.quantity.unit == "points" ? 1 : f.quantity.scale;  // accuracies as fractions
  const int digits = f.quantity.unit == "points" ? 3 : f.quantity.decimals;
  if (e.n == 0) return "n/a";
  const std::string mean = fmt::format("{:.{}f}", e.mean * k, digits);
  if (!e.has_interval()) return mean + " (1 run)";
  return fmt::format("{} [{:.{}f}, {:.{}f}]", mean, e.low * k, digits, e.high * k, digits);
}

std::string format_statistics(const Statistics& s) {
  if (s.ranking.empty()) return "";
  size_t width = 9;
  for (const GroupStatistics& g : s.ranking) width = std::max(width, g.optimizer.size());
  std::string out = fmt::format("\nranking (mean and bootstrap 95% interval over repeats):\n  {:<{}}  {:<26}  {:<26}\n",
                                "optimizer", width, "final test acc", "best test acc");
  for (const GroupStatistics& g : s.ranking)
    out += fmt::format("  {:<{}}  {:<26}  {:<26}\n", g.optimizer, width, format_estimate(g.estimates[0], s.figures[0]),
                       format_estimate(g.estimates[1], s.figures[1]));
  bool any = false;
  for (const PairVerdict& v : s.verdicts)
    if (v.figure == "final_test_accuracy") {
      out += (any ? "" : "verdicts (final test accuracy):\n") + ("  " + v.line + "\n");
      any = true;
    }
  return out;
}

}  // namespace ember::train
