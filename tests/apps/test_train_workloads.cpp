// ember-train --workload (issue 20, "Several workloads"): one workload keeps the ordinary
// files; several give each its folder, workloads.csv, summary.json's per-workload results and
// the performance profile in report.html (loaded in headless Chromium where it is installed);
// a test function's steps to target checked against its own paths.csv; bad names exit 2.
// Tiny runs: a few seconds in all on the 2-core VM.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include <gtest/gtest.h>

#include "apps/common/gnuplot.h"
#include "apps/ember-train/function_workload.h"
#include "apps/ember-train/run.h"
#include "apps/ember-train/workload_times.h"
#include "tests/apps/train_helpers.h"
#include "tests/support/headless_browser.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;
using namespace testing;
constexpr double kInf = std::numeric_limits<double>::infinity();

// From paths.csv (spec,repeat,step,x,y,loss): the first step of `spec`, repeat 0, whose loss is
// at most kFunctionTargetFraction of the start's; -1 when none.
int64_t steps_to_target_from_paths(const fs::path& csv, const std::string& spec) {
  double start = kInf;
  for (const std::string& line : read_lines(csv)) {
    const std::vector<std::string> f = csv_fields(line);
    if (f.size() != 6 || f[0] != spec || f[1] != "0") continue;
    const double loss = std::stod(f[5]);
    if (f[2] == "0") start = loss;
    if (loss <= kFunctionTargetFraction * start) return std::stoll(f[2]);
  }
  return -1;
}

TEST(TrainWorkloads, OptimizerTimeIsTheBestGroupsMeanAndAMissIsNever) {
  const std::vector<RunTime> runs = {{"sgd", "sgd:lr=0.1", 10}, {"sgd", "sgd:lr=0.1", 30},  // mean 20
                                     {"sgd", "sgd:lr=1", 5},    {"sgd", "sgd:lr=1", kInf},  // a repeat missed
                                     {"adam", "adam", 7}};
  const std::vector<double> t = optimizer_times(runs, {"sgd", "adam", "lion"});
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0], 20.0);
  EXPECT_EQ(t[1], 7.0);
  EXPECT_EQ(t[2], kInf) << "an optimiser without runs never reached the target";
  EXPECT_EQ(optimizer_times({{"sgd", "sgd", kInf}}, {"sgd"})[0], kInf);
}

TEST(TrainWorkloads, OneWorkloadWritesTheOrdinaryFiles) {
  TrainConfig plain = tiny("one-plain");
  plain.epochs = 1;
  plain.optimizers = {"sgd:lr=0.05"};
  TrainConfig one = plain;
  one.out = tiny("one-workload").out;
  one.workloads = {"synthetic"};
  ASSERT_EQ(run_comparison(plain), 0);
  ASSERT_EQ(run_comparison(one), 0);
  EXPECT_EQ(deterministic_part(one.out), deterministic_part(plain.out)) << "--workload synthetic is the plain run";
  EXPECT_TRUE(fs::exists(fs::path(one.out) / "report.html"));
  EXPECT_FALSE(fs::exists(fs::path(one.out) / "workloads.csv"));
  EXPECT_FALSE(fs::exists(fs::path(one.out) / "synthetic"));
  EXPECT_EQ(summary_of(one)["optimizers"].size(), 1u);
}

TEST(TrainWorkloads, TwoWorkloadsGiveAPerformanceProfile) {
  TrainConfig c = tiny("two");
  c.epochs = 2;
  c.optimizers = {"sgd:lr=0.002,momentum=0.9", "adam:lr=0.1"};
  c.workloads = {"synthetic", "rosenbrock"};
  ASSERT_EQ(run_comparison(c), 0);
  const fs::path out(c.out);
  // Each workload's comparison in its own folder.
  EXPECT_TRUE(fs::exists(out / "synthetic" / "epochs.csv"));
  EXPECT_TRUE(fs::exists(out / "synthetic" / "report.html"));
  for (const char* file : {"runs.csv", "paths.csv", "summary.json", "report.html"})
    EXPECT_TRUE(fs::exists(out / "rosenbrock" / file)) << file;

  // summary.json: per workload, each optimiser's time and its ratio to the best.
  const nlohmann::json s = summary_of(c);
  ASSERT_EQ(s["workloads"].size(), 2u);
  for (const nlohmann::json& w : s["workloads"]) {
    ASSERT_EQ(w["optimizers"].size(), 2u) << w;
    double best = kInf;
    for (const nlohmann::json& o : w["optimizers"])
      if (o["time_to_target"].is_number()) best = std::min(best, o["time_to_target"].get<double>());
    for (const nlohmann::json& o : w["optimizers"]) {
      if (!o["time_to_target"].is_number()) {
        EXPECT_EQ(o["ratio_to_best"], "not reached") << w;
        continue;
      }
      EXPECT_DOUBLE_EQ(o["ratio_to_best"].get<double>(), o["time_to_target"].get<double>() / best) << w;
    }
  }
  const nlohmann::json& network = s["workloads"][0];
  EXPECT_EQ(network["workload"], "synthetic");
  EXPECT_EQ(network["unit"], "training images");
  EXPECT_NE(network["target"].get<std::string>().find("0.9 x the best test accuracy"), std::string::npos) << network;
  ASSERT_TRUE(network["optimizers"][0]["time_to_target"].is_number() ||
              network["optimizers"][1]["time_to_target"].is_number())
      << "the best run reaches 0.9 of its own accuracy";
  // The test function's steps to target, recomputed from its paths.
  const nlohmann::json& function = s["workloads"][1];
  EXPECT_EQ(function["unit"], "steps");
  for (size_t k = 0; k < 2; ++k) {
    const int64_t steps = steps_to_target_from_paths(out / "rosenbrock" / "paths.csv", c.optimizers[k]);
    const nlohmann::json& t = function["optimizers"][k]["time_to_target"];
    if (steps < 0) {
      EXPECT_EQ(t, "not reached") << c.optimizers[k];
    } else {
      EXPECT_EQ(t, steps) << c.optimizers[k];
    }
  }
  // The profile: at tau = 1 the fraction of workloads each optimiser won (ties count for both).
  const nlohmann::json& p = s["performance_profile"];
  EXPECT_EQ(p["tau"][0], 1.0);
  for (size_t k = 0; k < 2; ++k) {
    int won = 0;
    for (const nlohmann::json& w : s["workloads"]) won += w["optimizers"][k]["ratio_to_best"] == 1.0;
    EXPECT_DOUBLE_EQ(p["fraction"][c.optimizers[k]][0].get<double>(), won / 2.0) << c.optimizers[k];
  }
  EXPECT_EQ(read_lines(out / "workloads.csv").size(), 5u);  // header + 2 workloads x 2 optimisers

  // report.html: the profile figure where gnuplot is installed, else a note where it would be.
  const fs::path report = out / "report.html";
  const std::string html = slurp(report);
  EXPECT_NE(html.find("<section id=\"profile\">"), std::string::npos);
  const bool drawn = apps::gnuplot_missing_reason().empty();
  if (drawn) {
    EXPECT_TRUE(is_png(out / "performance_profile.png"));
  }
  EXPECT_NE(html.find(drawn ? "<img src=\"data:image/png;base64," : "Figure not available"), std::string::npos);
  const std::string chromium = ember::testing::find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed: the report was checked as text only";
  ember::testing::BrowserLoad load = ember::testing::load_in_chromium(chromium, report, c.out);
  ASSERT_EQ(load.status, 0) << load.log;
  EXPECT_EQ(load.log.find(":CONSOLE"), std::string::npos) << load.log;
  EXPECT_NE(load.dom.find("<section id=\"profile\">"), std::string::npos);
  { std::ofstream(out / "probe.html") << ember::testing::with_image_probe(html); }
  load = ember::testing::load_in_chromium(chromium, out / "probe.html", c.out);
  EXPECT_NE(load.dom.find("data-probe=\"images=" + std::to_string(drawn ? 2 : 1) + " broken=1\""), std::string::npos)
      << load.dom.substr(0, 400);
}

TEST(TrainWorkloads, TuningATestFunctionKeepsTheTrialWithTheLowestLoss) {
  TrainConfig c = tiny("tune-function");
  c.epochs = 1;
  c.tune = 3;
  c.repeats = 2;
  c.optimizers = {"adam"};
  c.workloads = {"quadratic"};
  ASSERT_EQ(run_comparison(c), 0);
  const std::vector<std::string> lines = read_lines(fs::path(c.out) / "runs.csv");
  ASSERT_EQ(lines.size(), 1u + 3 + 2) << "3 trials, then the best twice";
  double lowest = kInf;
  std::string best;
  for (size_t i = 1; i <= 3; ++i) {
    const std::vector<std::string> f = csv_fields(lines[i]);
    EXPECT_EQ(f[2], "trial");
    if (std::stod(f[8]) < lowest) lowest = std::stod(f[8]), best = f[1];
  }
  for (size_t i = 4; i <= 5; ++i) {
    const std::vector<std::string> f = csv_fields(lines[i]);
    EXPECT_EQ(f[2], "final");
    EXPECT_EQ(f[1], best);
    EXPECT_EQ(f[3], std::to_string(i - 4)) << "repeat";
  }
  EXPECT_NE(csv_fields(lines[4])[5], csv_fields(lines[5])[5]) << "repeat 1 starts elsewhere";
}

TEST(TrainWorkloads, BadWorkloadsExitTwoWithOneLine) {
  const std::string rest = " --device cpu --epochs 1 --out /tmp/ember-train-test-workload-usage";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--workload nosuch" + rest,
       "--workload 'nosuch' is unknown; valid: resnet18, resnet18-cifar, synthetic, rosenbrock, beale, quadratic"},
      {"--workload resnet18-cifar" + rest, "--workload resnet18-cifar trains on CIFAR-10: give its folder with --data"},
      {"--workload synthetic --workload resnet18 --data synthetic:96,32" + rest, "trains on CIFAR-10"},
      {"--workload beale --workload beale" + rest, "--workload beale is given twice"},
      {"--workload rosenbrock --shift 2:labels --epochs 2 --device cpu", "--shift, --classes and --weights do not apply"},
      {"--workload quadratic --optimizer muon" + rest, "muon"},
  };
  expect_usage_errors(cases);
}

}  // namespace
}  // namespace ember::train
