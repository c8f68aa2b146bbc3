// ember-train's verdict end to end: --tune (two phases, the validation hold-out, tuning.csv),
// the statistics in summary.json, report.html after every comparison (loaded in headless
// Chromium where it is installed), and the tuning flags' usage errors. Tiny synthetic runs:
// about 10 s in all on the 2-core VM.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include <gtest/gtest.h>

#include "apps/ember-train/run.h"
#include "tests/apps/train_helpers.h"
#include "tests/support/headless_browser.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;
using namespace testing;

TEST(TrainTuning, EveryOptimiserGetsTheSameTrialsAndItsBestIsRerun) {
  TrainConfig c = tiny("tune");
  c.epochs = 1;
  c.tune = 2;
  c.repeats = 2;
  c.optimizers = {"sgd:lr=0.01,momentum=0.9", "adam"};
  c.spaces = {"adam:lr=1e-4:1e-2,eps=fixed,weight_decay=fixed"};
  ASSERT_EQ(run_comparison(c), 0);
  const fs::path out(c.out);

  // tuning.csv: 2 trials per optimiser, the best by validation accuracy selected.
  const std::vector<std::string> lines = read_lines(out / "tuning.csv");
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].rfind("optimizer,trial,spec,lr,momentum,weight_decay,beta1,beta2,validation_accuracy,", 0), 0u)
      << lines[0];
  std::map<std::string, int> selected, trials;
  std::map<std::string, double> best_validation, selected_validation;
  std::map<std::string, std::string> best_spec;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> f = csv_fields(lines[i]);
    ASSERT_EQ(f.size(), 15u) << lines[i];  // optimizer, trial, spec, 5 keys, 5 metrics, diverged, selected
    const std::string base = f[0];
    const std::vector<std::string> rest(f.begin() + 3, f.end());
    const double validation = std::stod(rest[5]);
    EXPECT_TRUE(validation >= 0 && validation <= 1) << lines[i];
    EXPECT_TRUE(std::isfinite(std::stod(rest[8]))) << "test accuracy of " << lines[i];
    if (base == "adam") {
      const double lr = std::stod(rest[0]);
      EXPECT_TRUE(lr >= 1e-4 && lr <= 1e-2) << lines[i];
      EXPECT_EQ(rest[1], "") << "adam has no momentum";
      EXPECT_EQ(rest[2], "") << "weight_decay was fixed for adam";
    }
    ++trials[base];
    if (rest[11] == "1") ++selected[base], best_spec[base] = f[2], selected_validation[base] = validation;
    if (!(validation <= best_validation[base])) best_validation[base] = validation;
  }
  EXPECT_EQ(trials["adam"], 2);
  EXPECT_EQ(trials["sgd:lr=0.01,momentum=0.9"], 2);
  EXPECT_EQ(selected["adam"], 1);
  EXPECT_EQ(selected["sgd:lr=0.01,momentum=0.9"], 1);
  for (const auto& [base, best] : best_validation) EXPECT_EQ(selected_validation[base], best) << base;

  // Phase 1 is a comparison of its own, on the training set less the validation set.
  EXPECT_TRUE(fs::exists(out / "tuning" / "epochs.csv"));
  EXPECT_TRUE(fs::exists(out / "tuning" / "report.html"));
  const nlohmann::json s = summary_of(c);
  EXPECT_NE(s["data"].get<std::string>().find("validation"), std::string::npos) << s["data"];
  // Phase 2: the selected specs, each with --repeats runs, and the verdict.
  EXPECT_EQ(s["config"]["phase"], "final");
  ASSERT_EQ(s["optimizers"].size(), 2u);
  EXPECT_EQ(s["optimizers"][0]["optimizer"], best_spec["sgd:lr=0.01,momentum=0.9"]);
  EXPECT_EQ(s["optimizers"][1]["optimizer"], best_spec["adam"]);
  EXPECT_EQ(s["runs"].size(), 4u);
  const nlohmann::json& st = s["statistics"];
  ASSERT_EQ(st["ranking"].size(), 2u);
  for (const auto& g : st["ranking"]) {
    EXPECT_EQ(g["final_test_accuracy"]["n"], 2);
    ASSERT_TRUE(g["final_test_accuracy"]["ci95"].is_array()) << g;
    EXPECT_LE(g["final_test_accuracy"]["ci95"][0].get<double>(), g["final_test_accuracy"]["mean"].get<double>());
  }
  ASSERT_EQ(st["pairwise"].size(), 2u);  // one pair, final and best accuracy
  const std::string line = st["pairwise"][0]["verdict"];
  EXPECT_EQ(line.rfind(st["ranking"][0]["optimizer"].get<std::string>() + " vs ", 0), 0u) << line;

  // The report: every section, the tuning table, the verdict, the figures or a note for each.
  const std::string html = slurp(out / "report.html");
  for (const char* id : {"configuration", "ranking", "training", "test-accuracy", "tuning", "target", "memory",
                         "provenance"})
    EXPECT_NE(html.find(std::string("<section id=\"") + id + "\">"), std::string::npos) << id;
  EXPECT_NE(html.find("lr=0.0001:0.01:log,beta1=0.5:0.99:log1m,beta2=0.9:0.9999:log1m"), std::string::npos)
      << "the search space is not shown";
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST(TrainTuning, EveryComparisonWritesAReportThatChromiumLoads) {
  TrainConfig c = tiny("report");
  c.epochs = 1;
  c.repeats = 2;
  c.optimizers = {"sgd:lr=0.05", "adam"};
  c.target_accuracy = 0.05;
  ASSERT_EQ(run_comparison(c), 0);
  const fs::path report = fs::path(c.out) / "report.html";
  ASSERT_TRUE(fs::exists(report));
  const std::string html = slurp(report);
  EXPECT_NE(html.find("No tuning"), std::string::npos);
  EXPECT_NE(html.find("seconds_to_target"), std::string::npos);
  const std::string chromium = ember::testing::find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed: the report was checked as text only";
  ember::testing::BrowserLoad load = ember::testing::load_in_chromium(chromium, report, c.out);
  ASSERT_EQ(load.status, 0) << load.log;
  EXPECT_EQ(load.log.find(":CONSOLE"), std::string::npos) << load.log;
  EXPECT_NE(load.dom.find("<section id=\"ranking\">"), std::string::npos);
  { std::ofstream(fs::path(c.out) / "probe.html") << ember::testing::with_image_probe(html); }
  load = ember::testing::load_in_chromium(chromium, fs::path(c.out) / "probe.html", c.out);
  // Where gnuplot drew them, training, test accuracy and energy figures decode; only the probe's is broken.
  const size_t figures = fs::exists(fs::path(c.out) / "training_metrics.png") ? 3 : 0;
  EXPECT_NE(load.dom.find("data-probe=\"images=" + std::to_string(figures + 1) + " broken=1\""), std::string::npos)
      << load.dom.substr(0, 400);
}

TEST(TrainTuning, BadTuningFlagsExitTwoWithOneLine) {
  const std::string data = " --data synthetic:96,8 --device cpu --epochs 1 --out /tmp/ember-train-test-tune-usage";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--tune 0" + data, "--tune: Value 0 not in range"},
      {"--tune 2 --space adam:lr=1e-2:1e-3" + data, "low 0.01 must be below high 0.001"},
      {"--tune 2 --space adam:lr=0:1e-2:log" + data, "a log scale needs bounds above 0"},
      {"--tune 2 --space nosuch:lr=1e-3:1e-2" + data, "unknown optimizer 'nosuch'"},
      {"--tune 2 --space adamw:lr=1e-3:1e-2" + data, "adamw is not among the compared optimisers"},
      {"--tune 2 --space adam:betta=0.1:0.2" + data, "adam has no key 'betta'"},
      {"--space adam:lr=1e-3:1e-2" + data, "--space needs --tune N"},
      {"--tune 2 --sweep lr=1e-3:1e-1:3" + data, "leave out --sweep"},
      {"--tune 2 --data synthetic:40,8 --device cpu --out /tmp/ember-train-test-tune-usage",
       "--tune holds out a tenth of the 40 training images as validation"},
  };
  expect_usage_errors(cases);
}

}  // namespace
}  // namespace ember::train
