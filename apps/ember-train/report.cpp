#include "apps/ember-train/report.h"

#include <cmath>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include "apps/compare/html_report.h"
#include "apps/ember-train/checkpoint.h"
#include "apps/ember-train/summary.h"
#include "apps/ember-train/tuning.h"

namespace ember::train {

namespace {

namespace fs = std::filesystem;
using compare::ReportSection;
using compare::ReportTable;

std::string& recorded_command() {
  static std::string command = "ember-train";
  return command;
}

// A shell word: quoted when it holds anything but safe characters.
std::string shell_word(const std::string& w) {
  if (!w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=:,./@%") ==
                        std::string::npos)
    return w;
  std::string out = "'";
  for (char c : w) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string number(double v, const char* format = "{:.3f}") {
  return std::isfinite(v) ? fmt::format(fmt::runtime(format), v) : "n/a";
}

std::string figure_path(const ReportInputs& in, const char* file) { return (fs::path(in.out_dir) / file).string(); }

ReportSection configuration(const ReportInputs& in) {
  ReportSection s{"configuration", "Configuration and command", {}};
  s.paragraph("The exact command of this comparison:").code(command_line());
  ReportTable t{{"setting", "value"}, {}, {false, false}};
  const nlohmann::json config = to_json(in.state.config);
  for (auto it = config.begin(); it != config.end(); ++it)
    t.rows.push_back({it.key(), it->is_string() ? it->get<std::string>() : it->dump()});
  return s.folded_table(fmt::format("Every setting ({} of them, defaults included)", t.rows.size()), t);
}

ReportSection ranking(const ReportInputs& in) {
  const Statistics& st = in.statistics;
  ReportSection s{"ranking", "Ranking and verdicts", {}};
  s.paragraph(fmt::format("Mean over the repeats of each optimiser with a bootstrap 95% interval (percentile, 10,000 "
                          "resamples; repeat r of every optimiser starts from the same weights and batch order, so "
                          "differences are paired by repeat). {} run(s) per optimiser.",
                          in.state.config.repeats));
  ReportTable t{{"rank", "optimizer"}, {}, {true, false}};
  for (const Figure& f : st.figures) t.header.push_back(f.name);
  for (size_t i = 0; i < st.ranking.size(); ++i) {
    std::vector<std::string> row = {std::to_string(i + 1), st.ranking[i].optimizer};
    for (size_t f = 0; f < st.figures.size(); ++f) row.push_back(format_estimate(st.ranking[i].estimates[f], st.figures[f]));
    t.rows.push_back(row);
  }
  s.table(t);
  for (const Figure& f : st.figures) {
    std::vector<std::string> lines;
    for (const PairVerdict& v : st.verdicts)
      if (v.figure == f.name) lines.push_back(v.line);
    if (lines.empty()) continue;
    s.paragraph("Pairwise, " + f.name + ":").list(lines);
  }
  return s;
}

ReportSection tuning_or_sweep(const ReportInputs& in) {
  const TrainConfig& c = in.state.config;
  const fs::path trials_checkpoint = checkpoint_path(tuning_dir(in.out_dir));
  if (c.phase == kPhaseFinal && fs::exists(trials_checkpoint)) {
    ReportSection s{"tuning", "Tuning (equal budgets)", {}};
    const RunState trials = load_run_checkpoint(trials_checkpoint.string()).state;
    const std::vector<TrialPlan> plan = plan_trials(trials.config);
    s.paragraph(fmt::format("{} trials per optimiser, drawn by a scrambled Halton sequence from each search space; the "
                            "best trial by final validation accuracy (held out of the training set, never the test "
                            "set) was re-run above. All trials: tuning.csv and the tuning/ folder.",
                            c.tune));
    ReportTable spaces{{"optimizer", "search space"}, {}, {false, false}};
    for (const TrialPlan& p : plan) spaces.rows.push_back({p.base, compare::format_search_space(p.space)});
    s.table(spaces).figure(figure_path(in, "tuning.png"), "Validation accuracy of every trial against its learning rate");
    ReportTable t{{"optimizer", "trial", "spec", "validation acc", "test acc", "diverged", "selected"}, {}, {}};
    t.numeric = {false, true, false, true, true, false, false};
    for (const TrialOutcome& o : trial_outcomes(plan, trials))
      t.rows.push_back({o.base, std::to_string(o.trial.index), o.trial.spec, number(o.validation_accuracy),
                        number(o.test_accuracy), o.diverged ? "yes" : "", o.selected ? "best" : ""});
    return s.table(t);
  }
  if (!c.sweep.empty()) {
    ReportSection s{"sweep", "Learning-rate sweep", {}};
    std::vector<std::string> best;
    for (const auto& [base, lr] : best_learning_rates(in.state.results))
      best.push_back(fmt::format("{}: best lr {}", base, number(lr, "{:.3g}")));
    return s.figure(figure_path(in, "sweep.png"), "Final test accuracy against learning rate").list(best);
  }
  ReportSection s{"tuning", "Tuning", {}};
  return s.paragraph("No tuning: each optimiser ran at the hyperparameters given. --tune N gives every optimiser the "
                     "same budget of N trials over its search space; --sweep compares learning rates.");
}

ReportSection target_and_energy(const ReportInputs& in) {
  ReportSection s{"target", "Time and energy to target", {}};
  const double target = in.state.config.target_accuracy;
  if (target > 0) {
    ReportTable t{{"optimizer", "runs that reached " + number(target, "{:.3g}"), "images (mean)", "seconds (mean)",
                   "joules (mean)"},
                  {},
                  {}};
    for (const Group& g : group_results(in.state.results)) {
      std::vector<double> images, seconds, joules;
      for (const RunResult* r : g.runs)
        if (r->images_to_target >= 0)
          images.push_back(double(r->images_to_target)), seconds.push_back(r->seconds_to_target),
              joules.push_back(r->joules_to_target);
      t.rows.push_back({g.label, fmt::format("{} of {}", images.size(), g.runs.size()),
                        number(mean_std(images).first, "{:.0f}"), number(mean_std(seconds).first, "{:.1f}"),
                        number(mean_std(joules).first, "{:.0f}")});
    }
    s.table(t);
  } else {
    s.paragraph("No --target-accuracy was set: the figure shows accuracy against the cost of getting there.");
  }
  const std::string source = in.state.results.empty() ? "" : in.state.results.front().energy_source;
  return s.paragraph("Energy source: " + source).figure(figure_path(in, "energy.png"), "Test accuracy against energy (or training time)");
}

ReportSection memory(const ReportInputs& in) {
  ReportSection s{"memory", "Memory", {}};
  ReportTable t{{"optimizer", "parameters", "state bytes / parameter", "params + grads + state (x params)",
                 "peak device memory (MB)"},
                {},
                {}};
  for (const Group& g : group_results(in.state.results)) {
    const RunResult& r = *g.runs.front();
    const double p = static_cast<double>(r.parameters), tp = static_cast<double>(r.trainable_parameters);
    const double multiple = p > 0 ? (4 * p + 4 * tp + static_cast<double>(r.state_bytes)) / (4 * p) : kNaN;
    t.rows.push_back({g.label, std::to_string(r.parameters), number(tp > 0 ? r.state_bytes / tp : kNaN, "{:.1f}"),
                      number(multiple, "{:.2f}"), number(r.peak_device_bytes / 1e6, "{:.1f}")});
  }
  return s.table(t);
}

ReportSection provenance(const ReportInputs& in) {
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  ReportSection s{"provenance", "Device, code and data", {}};
  ReportTable t{{"what", "value"},
                {{"device", in.device}, {"ember commit", ember_commit()}, {"data", in.state.data_description},
                 {"written", date}, {"folder", in.out_dir}},
                {false, false}};
  return s.table(t);
}

}  // namespace

void set_command_line(int argc, char** argv) {
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + shell_word(argv[i]);
  recorded_command() = command;
}

const std::string& command_line() { return recorded_command(); }

void write_comparison_report(const ReportInputs& in) {
  compare::ReportPage page;
  page.title = "ember-train: which optimiser, and how sure";
  page.subtitle = fmt::format("{} optimiser(s), {} run(s), {} epoch(s) each; {}", in.statistics.ranking.size(),
                              in.state.results.size(), in.state.config.epochs, in.state.data_description);
  page.missing_figure_reason = in.figure_note.empty() ? "the figure was not drawn" : in.figure_note;
  page.sections.push_back(configuration(in));
  page.sections.push_back(ranking(in));
  ReportSection training{"training", "Training loss and accuracy", {}};
  page.sections.push_back(training.figure(figure_path(in, "training_metrics.png"),
                                          "The seed's figure: training loss and accuracy, moving average of 5 points"));
  ReportSection test{"test-accuracy", "Test accuracy per epoch", {}};
  page.sections.push_back(test.figure(figure_path(in, "test_accuracy.png"), "Test accuracy after each epoch"));
  page.sections.push_back(tuning_or_sweep(in));
  page.sections.push_back(target_and_energy(in));
  page.sections.push_back(memory(in));
  if (!in.state.config.shift.empty()) {
    ReportSection shift{"shift", "Distribution shift", {}};
    page.sections.push_back(shift.paragraph("--shift " + in.state.config.shift)
                                .figure(figure_path(in, "shift.png"), "Test accuracy per epoch, the shift marked"));
  }
  page.sections.push_back(provenance(in));
  compare::write_report((fs::path(in.out_dir) / "report.html").string(), page);
}

}  // namespace ember::train
