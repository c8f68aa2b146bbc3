#include "apps/ember-train/function_workload.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/common/gnuplot.h"
#include "apps/compare/html_report.h"
#include "apps/ember-paths/test_functions.h"
#include "apps/ember-train/history.h"
#include "apps/ember-train/report.h"
#include "apps/ember-train/summary.h"
#include "apps/ember-train/tuning.h"
#include "apps/ember-train/workloads.h"
#include "core/error.h"
#include "kernels/philox.h"

namespace ember::train {

namespace {

namespace fs = std::filesystem;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Which run: every field given where one is made.
struct RunId {
  std::string base, spec;
  bool trial = false;  // a --tune trial (else a run of the comparison)
  int repeat = 0;
  uint64_t seed = 0;
};

struct FunctionRun {
  RunId id;
  std::vector<paths::Point> path;
  int64_t steps_to_target = -1;  // -1: not reached
  double best_loss = kInf;
  bool diverged = false;
};

// ember-paths' start for seed 0; other seeds move it by up to 0.1 in x and y.
paths::Point start_for(uint64_t seed) {
  if (seed == 0) return {paths::kDefaultStart[0], paths::kDefaultStart[1], 0};
  const kernels::PhiloxWords r = kernels::philox4x32_10(seed ^ 0x50415448ull /* "PATH" */, 0);
  return {paths::kDefaultStart[0] + kernels::uniform_from_word(r.w[0]) * 0.2 - 0.1,
          paths::kDefaultStart[1] + kernels::uniform_from_word(r.w[1]) * 0.2 - 0.1, 0};
}

struct RunArgs {
  const std::string& function;
  int64_t steps;
  Device device;
};

FunctionRun run_one(const RunArgs& a, const RunId& id) {
  FunctionRun r;
  r.id = id;
  const paths::Point start = start_for(id.seed);
  r.path = paths::run_path(a.function, id.spec, start.x, start.y, a.steps, a.device);
  const double target = kFunctionTargetFraction * r.path.front().loss;
  for (size_t t = 0; t < r.path.size(); ++t) {
    const double loss = r.path[t].loss;
    if (!std::isfinite(loss)) {
      r.diverged = true;
      break;
    }
    r.best_loss = std::min(r.best_loss, loss);
    if (r.steps_to_target < 0 && loss <= target) r.steps_to_target = static_cast<int64_t>(t);
  }
  return r;
}

double final_loss(const FunctionRun& r) { return r.diverged ? kInf : r.path.back().loss; }

// --tune: every trial of every optimiser, then each one's best (lowest final loss) --repeats times.
void run_tuned(const TrainConfig& c, const RunArgs& a, std::vector<FunctionRun>& runs) {
  for (const TrialPlan& p : plan_trials(c)) {
    const size_t first = runs.size();
    for (const compare::Trial& t : p.trials) runs.push_back(run_one(a, {p.base, t.spec, true, 0, c.seed}));
    size_t best = runs.size();
    for (size_t i = first; i < runs.size(); ++i)
      if (std::isfinite(final_loss(runs[i])) && (best == runs.size() || final_loss(runs[i]) < final_loss(runs[best])))
        best = i;
    if (best == runs.size()) {
      std::fprintf(stderr, "ember-train: warning: %s: every trial of %s diverged\n", a.function.c_str(), p.base.c_str());
      continue;
    }
    const std::string spec = runs[best].id.spec;
    for (int r = 0; r < c.repeats; ++r)
      runs.push_back(run_one(a, {p.base, spec, false, r, c.seed + static_cast<uint64_t>(r)}));
  }
}

std::vector<FunctionRun> run_all(const TrainConfig& c, const RunArgs& a) {
  std::vector<FunctionRun> runs;
  if (c.tune > 0) {
    run_tuned(c, a, runs);
    return runs;
  }
  for (const RunSpec& s : c.parsed.runs) runs.push_back(run_one(a, {s.base, s.optimizer, false, s.repeat, s.seed}));
  return runs;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  EMBER_CHECK(out.good(), "cannot write {}", path.string());
}

std::string runs_csv(const std::vector<FunctionRun>& runs) {
  std::string out = "optimizer,spec,phase,repeat,seed,start_x,start_y,steps_to_target,final_loss,best_loss,diverged\n";
  for (const FunctionRun& r : runs)
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", csv_field(r.id.base), csv_field(r.id.spec),
                       r.id.trial ? "trial" : "final", r.id.repeat, r.id.seed, csv_number(r.path.front().x),
                       csv_number(r.path.front().y), r.steps_to_target, csv_number(r.path.back().loss),
                       csv_number(r.best_loss), r.diverged ? 1 : 0);
  return out;
}

std::string paths_csv(const std::vector<FunctionRun>& runs) {
  std::string out = "spec,repeat,step,x,y,loss\n";
  for (const FunctionRun& r : runs)
    if (!r.id.trial)
      for (size_t t = 0; t < r.path.size(); ++t)
        out += fmt::format("{},{},{},{},{},{}\n", csv_field(r.id.spec), r.id.repeat, t, csv_number(r.path[t].x),
                           csv_number(r.path[t].y), csv_number(r.path[t].loss));
  return out;
}

// One row per group (optimiser spec) of the final runs: mean steps to target (Inf when a
// repeat missed), mean final loss, runs that reached the target.
struct GroupRow {
  std::string base, spec;
  double steps = 0, loss = 0;
  int reached = 0, runs = 0;
};

std::vector<GroupRow> group_rows(const std::vector<FunctionRun>& runs) {
  std::vector<GroupRow> rows;
  for (const FunctionRun& r : runs) {
    if (r.id.trial) continue;
    auto it = std::find_if(rows.begin(), rows.end(), [&](const GroupRow& g) { return g.spec == r.id.spec; });
    if (it == rows.end()) {
      it = rows.insert(rows.end(), GroupRow());
      it->base = r.id.base, it->spec = r.id.spec;
    }
    it->steps += r.steps_to_target >= 0 ? static_cast<double>(r.steps_to_target) : kInf;
    it->loss += final_loss(r);
    it->reached += r.steps_to_target >= 0;
    ++it->runs;
  }
  for (GroupRow& g : rows) g.steps /= g.runs, g.loss /= g.runs;
  return rows;
}

std::string number(double v, const char* format, const char* otherwise) {
  return std::isfinite(v) ? fmt::format(fmt::runtime(format), v) : otherwise;
}

nlohmann::json finite_or(double v, const char* otherwise) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(otherwise);
}

std::string target_text() {
  return fmt::format("loss <= {:g} x the loss at the start", kFunctionTargetFraction);
}

void write_function_summary(const TrainConfig& c, const std::string& function, const std::vector<FunctionRun>& runs,
                            const std::string& device) {
  nlohmann::json optimizers = nlohmann::json::array(), all = nlohmann::json::array();
  for (const GroupRow& g : group_rows(runs))
    optimizers.push_back({{"optimizer", g.base}, {"spec", g.spec}, {"steps_to_target", finite_or(g.steps, "not reached")},
                          {"final_loss", finite_or(g.loss, "diverged")}, {"target_reached_runs", g.reached},
                          {"runs", g.runs}});
  for (const FunctionRun& r : runs)
    all.push_back({{"optimizer", r.id.base}, {"spec", r.id.spec}, {"phase", r.id.trial ? "trial" : "final"},
                   {"repeat", r.id.repeat}, {"seed", r.id.seed}, {"start", {r.path.front().x, r.path.front().y}},
                   {"steps_to_target", r.steps_to_target >= 0 ? nlohmann::json(r.steps_to_target) : "not reached"},
                   {"final_loss", finite_or(r.path.back().loss, "diverged")}, {"diverged", r.diverged}});
  const nlohmann::json j = {{"workload", function}, {"kind", "test function"},
                            {"steps", c.epochs * kFunctionStepsPerEpoch}, {"target", target_text()},
                            {"config", to_json(c)}, {"device", device}, {"ember_commit", ember_commit()},
                            {"optimizers", optimizers}, {"runs", all}};
  write_file(fs::path(c.out) / "summary.json", j.dump(2) + "\n");
}

// paths.png: repeat 0 of every group. Returns "" or why it is missing.
std::string draw_paths(const std::string& function, const std::vector<FunctionRun>& runs, const fs::path& file) {
  const std::string missing = apps::gnuplot_missing_reason();
  if (!missing.empty()) return missing;
  std::vector<std::string> labels;
  std::vector<std::vector<paths::Point>> lines;
  for (const FunctionRun& r : runs)
    if (!r.id.trial && r.id.repeat == 0) labels.push_back(r.id.spec), lines.push_back(r.path);
  try {
    paths::plot_paths(*paths::find_test_function(function), labels, lines, file.string());
  } catch (const Error& e) {
    return e.message();
  }
  return "";
}

void write_function_report(const TrainConfig& c, const std::string& function, const std::vector<FunctionRun>& runs,
                           const std::string& device, const std::string& figure_note) {
  compare::ReportPage page;
  page.title = "ember-train: " + function;
  page.subtitle = fmt::format("{} steps per run from near ({}, {}); target: {}", c.epochs * kFunctionStepsPerEpoch,
                              paths::kDefaultStart[0], paths::kDefaultStart[1], target_text());
  page.missing_figure_reason = figure_note.empty() ? "the figure was not drawn" : figure_note;
  compare::ReportSection command{"configuration", "Command", {}};
  page.sections.push_back(command.paragraph("The exact command of this comparison:").code(command_line()));
  compare::ReportTable t{{"optimizer", "spec", "steps to target (mean)", "final loss (mean)", "runs that reached it"}, {}, {}};
  t.numeric = {false, false, true, true, true};
  for (const GroupRow& g : group_rows(runs))
    t.rows.push_back({g.base, g.spec, number(g.steps, "{:.0f}", "not reached"), number(g.loss, "{:.3g}", "diverged"),
                      fmt::format("{} of {}", g.reached, g.runs)});
  compare::ReportSection results{"results", "Steps to target", {}};
  page.sections.push_back(results.table(t).figure((fs::path(c.out) / "paths.png").string(),
                                                  "Every optimiser's path (repeat 0) on the contours"));
  compare::ReportSection provenance{"provenance", "Device and code", {}};
  page.sections.push_back(provenance.table({{"what", "value"}, {{"device", device}, {"ember commit", ember_commit()}}, {false, false}}));
  compare::write_report((fs::path(c.out) / "report.html").string(), page);
}

}  // namespace

void validate_function_workload(const TrainConfig& config) {
  std::vector<std::string> specs = config.tune > 0 ? trial_specs(config) : std::vector<std::string>{};
  for (const RunSpec& s : config.parsed.runs) specs.push_back(s.optimizer);
  for (const std::string& s : specs) paths::check_spec_on_point(s);
}

WorkloadOutcome run_function_workload(const TrainConfig& config, const std::string& function, Device device) {
  const int64_t steps = config.epochs * kFunctionStepsPerEpoch;
  if (!config.quiet) std::printf("%s: %lld steps per run, on %s\n", function.c_str(), static_cast<long long>(steps),
                                 device_name(device).c_str());
  const std::vector<FunctionRun> runs = run_all(config, {function, steps, device});
  write_file(fs::path(config.out) / "runs.csv", runs_csv(runs));
  write_file(fs::path(config.out) / "paths.csv", paths_csv(runs));
  const std::string note = draw_paths(function, runs, fs::path(config.out) / "paths.png");
  if (!note.empty()) std::fprintf(stderr, "ember-train: note: %s (paths.csv holds every point)\n", note.c_str());
  write_function_summary(config, function, runs, device_name(device));
  write_function_report(config, function, runs, device_name(device), note);
  WorkloadOutcome outcome{target_text(), "steps", {}};
  std::printf("%s (target: %s)\n", function.c_str(), target_text().c_str());
  for (const GroupRow& g : group_rows(runs))
    std::printf("  %-36s steps to target %-12s final loss %s\n", g.spec.c_str(), number(g.steps, "{:.0f}", "not reached").c_str(),
                number(g.loss, "{:.3g}", "diverged").c_str());
  for (const FunctionRun& r : runs)
    if (!r.id.trial)
      outcome.runs.push_back({r.id.base, r.id.spec, r.steps_to_target >= 0 ? static_cast<double>(r.steps_to_target) : kInf});
  return outcome;
}

}  // namespace ember::train
