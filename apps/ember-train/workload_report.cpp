// The cross-workload outputs of workload_comparison.h: workloads.csv, summary.json,
// performance_profile.png and report.html.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/common/gnuplot.h"
#include "apps/compare/html_report.h"
#include "apps/compare/performance_profile.h"
#include "apps/ember-train/history.h"
#include "apps/ember-train/plots.h"
#include "apps/ember-train/report.h"
#include "apps/ember-train/summary.h"
#include "apps/ember-train/workload_comparison.h"
#include "core/error.h"

namespace ember::train {

namespace {

namespace fs = std::filesystem;

std::vector<std::vector<double>> time_table(const std::vector<WorkloadResult>& results) {
  std::vector<std::vector<double>> times;
  for (const WorkloadResult& r : results) times.push_back(r.times);
  return times;
}

// The profile up to a little beyond the largest finite ratio (at least 2), so that every step shows.
double tau_max(const std::vector<std::vector<double>>& ratios) {
  double largest = 1;
  for (const auto& row : ratios)
    for (double r : row)
      if (std::isfinite(r)) largest = std::max(largest, r);
  return std::max(2.0, 1.25 * largest);
}

std::string ratio_text(double r) { return std::isfinite(r) ? fmt::format("{:.3g}", r) : "not reached"; }
std::string time_text(double t) { return std::isfinite(t) ? fmt::format("{:.0f}", t) : "not reached"; }

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  EMBER_CHECK(out.good(), "cannot write {}", path.string());
}

std::string workloads_csv(const std::vector<WorkloadResult>& results, const std::vector<std::string>& bases) {
  const auto ratios = compare::performance_ratios(time_table(results));
  std::string out = "workload,optimizer,time_to_target,unit,ratio_to_best\n";
  for (size_t w = 0; w < results.size(); ++w)
    for (size_t s = 0; s < bases.size(); ++s)
      out += fmt::format("{},{},{},{},{}\n", results[w].workload.name, csv_field(bases[s]),
                         std::isfinite(results[w].times[s]) ? csv_number(results[w].times[s]) : "",
                         csv_field(results[w].outcome.unit), std::isfinite(ratios[w][s]) ? csv_number(ratios[w][s]) : "");
  return out;
}

nlohmann::json summary_json(const TrainConfig& config, const std::vector<WorkloadResult>& results,
                            const std::string& device) {
  const std::vector<std::string> bases = config.optimizer_specs();
  const auto times = time_table(results);
  const auto ratios = compare::performance_ratios(times);
  auto number_or = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json("not reached"); };
  nlohmann::json workloads = nlohmann::json::array();
  for (size_t w = 0; w < results.size(); ++w) {
    nlohmann::json optimizers = nlohmann::json::array();
    for (size_t s = 0; s < bases.size(); ++s)
      optimizers.push_back({{"optimizer", bases[s]}, {"time_to_target", number_or(times[w][s])},
                            {"ratio_to_best", number_or(ratios[w][s])}});
    workloads.push_back({{"workload", results[w].workload.name}, {"folder", results[w].folder},
                         {"target", results[w].outcome.target}, {"unit", results[w].outcome.unit},
                         {"optimizers", optimizers}});
  }
  const compare::PerformanceProfile p = compare::performance_profile(times, tau_max(ratios));
  nlohmann::json fractions = nlohmann::json::object();
  for (size_t s = 0; s < bases.size(); ++s) fractions[bases[s]] = p.fraction[s];
  return {{"command", command_line()}, {"config", to_json(config)}, {"workloads", workloads},
          {"performance_profile", {{"tau", p.taus}, {"fraction", fractions}}}, {"device", device},
          {"ember_commit", ember_commit()}};
}

// performance_profile.png. Returns "" or why it is missing.
std::string draw_profile(const fs::path& file, const std::vector<WorkloadResult>& results,
                         const std::vector<std::string>& bases) {
  const std::string missing = apps::gnuplot_missing_reason();
  if (!missing.empty()) return missing;
  const auto times = time_table(results);
  const compare::PerformanceProfile p = compare::performance_profile(times, tau_max(compare::performance_ratios(times)));
  std::vector<PlotSeries> series;
  for (size_t s = 0; s < bases.size(); ++s)
    series.push_back({bases[s], p.taus, p.fraction[s], {}, {}, "steps", static_cast<int>(s + 1)});
  try {
    apps::run_gnuplot(fmt::format("set terminal pngcairo size 900,600\nset output {}\nset termoption noenhanced\n"
                                  "set grid\nset key below\nset logscale x 2\nset yrange [-0.03:1.05]\n"
                                  "set xrange [1:{}]\n",
                                  apps::gnuplot_quote(file.string()), p.taus.back()) +
                          gnuplot_datablocks(series, 0) +
                          fmt::format("set title 'Performance profile over {} workloads: time to target within a "
                                      "factor tau of the best'\nset xlabel 'tau'\nset ylabel 'Fraction of "
                                      "workloads'\n",
                                      results.size()) +
                          gnuplot_plot(series, 0),
                      "performance_profile.png");
  } catch (const Error& e) {
    return e.message();
  }
  return "";
}

compare::ReportSection profile_section(const fs::path& figure, size_t workloads) {
  compare::ReportSection s{"profile", "Performance profile", {}};
  return s
      .paragraph(fmt::format("For each optimiser, the fraction of the {} workloads on which its time to target is "
                             "within a factor tau of the best optimiser's (Dolan and More 2002, as AlgoPerf "
                             "aggregates its workloads). At tau = 1: the workloads it won; an optimiser that never "
                             "reached a workload's target never counts there. Higher and further left is better.",
                             workloads))
      .figure(figure.string(), "Fraction of workloads within a factor tau of the best time to target");
}

compare::ReportSection workloads_section(const std::vector<WorkloadResult>& results,
                                         const std::vector<std::string>& bases) {
  compare::ReportSection s{"workloads", "Time to target per workload", {}};
  s.paragraph("Time is counted in work (training images, or steps for the test functions), not seconds. Each "
              "optimiser's time is the best over its learning rates of the mean over its repeats; a repeat that "
              "missed the target makes its group never reach it. In parentheses: the ratio to the best.");
  compare::ReportTable t{{"workload", "target", "unit"}, {}, {}};
  t.numeric = {false, false, false};
  for (const std::string& b : bases) t.header.push_back(b), t.numeric.push_back(true);
  const auto ratios = compare::performance_ratios(time_table(results));
  for (size_t w = 0; w < results.size(); ++w) {
    std::vector<std::string> row = {results[w].workload.name, results[w].outcome.target, results[w].outcome.unit};
    for (size_t k = 0; k < bases.size(); ++k)
      row.push_back(std::isfinite(results[w].times[k])
                        ? fmt::format("{} ({})", time_text(results[w].times[k]), ratio_text(ratios[w][k]))
                        : "not reached");
    t.rows.push_back(row);
  }
  std::vector<std::string> folders;
  for (const WorkloadResult& r : results) folders.push_back(r.workload.name + ": " + r.folder + "/report.html");
  return s.table(t).paragraph("Each workload's own comparison (ranking, verdicts, figures):").list(folders);
}

}  // namespace

void write_workload_outputs(const TrainConfig& config, const std::vector<WorkloadResult>& results,
                            const std::string& device) {
  const fs::path out(config.out);
  const std::vector<std::string> bases = config.optimizer_specs();
  write_file(out / "workloads.csv", workloads_csv(results, bases));
  write_file(out / "summary.json", summary_json(config, results, device).dump(2) + "\n");
  const std::string note = draw_profile(out / "performance_profile.png", results, bases);
  if (!note.empty()) std::fprintf(stderr, "ember-train: note: %s (workloads.csv holds every number)\n", note.c_str());
  compare::ReportPage page;
  page.title = "ember-train: optimisers across workloads";
  std::vector<std::string> names;
  for (const WorkloadResult& r : results) names.push_back(r.workload.name);
  page.subtitle = fmt::format("{} optimiser(s) on {} workloads: {}", bases.size(), results.size(), fmt::join(names, ", "));
  page.missing_figure_reason = note.empty() ? "the figure was not drawn" : note;
  compare::ReportSection command{"configuration", "Command", {}};
  page.sections.push_back(command.paragraph("The exact command of this comparison:").code(command_line()));
  page.sections.push_back(profile_section(out / "performance_profile.png", results.size()));
  page.sections.push_back(workloads_section(results, bases));
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  compare::ReportSection provenance{"provenance", "Device and code", {}};
  page.sections.push_back(provenance.table(
      {{"what", "value"}, {{"device", device}, {"ember commit", ember_commit()}, {"written", date}}, {false, false}}));
  compare::write_report((out / "report.html").string(), page);
  std::printf("across %zu workloads: %s, report.html and performance_profile.png in %s\n", results.size(),
              "workloads.csv, summary.json", out.string().c_str());
}

}  // namespace ember::train
