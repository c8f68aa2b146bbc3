// ember-train's pieces without training: CSV layout, moving average and bands, figures,
// energy meters, run expansion (sweeps, repeats), shifts, and the milestones of a history.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "apps/common/gnuplot.h"
#include "apps/ember-train/energy.h"
#include "apps/ember-train/history.h"
#include "apps/ember-train/milestones.h"
#include "apps/ember-train/plots.h"
#include "apps/ember-train/runs.h"
#include "apps/ember-train/summary.h"
#include "core/error.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;

bool is_png(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in.gcount() == 8 && std::string(magic + 1, 3) == "PNG" && fs::file_size(p) > 1000;
}

HistoryRow hrow(const std::string& o, int repeat, int epoch, int64_t batch, double loss, double acc) {
  HistoryRow r;
  r.optimizer = o;
  r.repeat = repeat;
  r.epoch = epoch;
  r.batch = batch;
  r.images_seen = 64 * batch;
  r.loss = loss;
  r.accuracy = acc;
  return r;
}

EpochRow erow(const std::string& o, int repeat, int epoch, double test_acc, int64_t images, double joules = 1.0) {
  EpochRow r;
  r.optimizer = o;
  r.repeat = repeat;
  r.epoch = epoch;
  r.train_loss = 2.0 / epoch;
  r.train_accuracy = test_acc;
  r.test_loss = 2.1 / epoch;
  r.test_accuracy = test_acc;
  r.seconds = 1;
  r.images_per_second = 100;
  r.images_seen = images;
  r.train_seconds = epoch;
  r.joules = joules * epoch;
  r.test_accuracy_low = r.test_accuracy_high = kNaN;
  return r;
}

TEST(TrainOutputs, CsvHeadersAndQuoting) {
  EXPECT_EQ(history_csv({hrow("sgd:lr=0.01,momentum=0.9", 1, 1, 2, 2.25, 0.125)}),
            "optimizer,repeat,epoch,batch,images_seen,loss,accuracy\n"
            "\"sgd:lr=0.01,momentum=0.9\",1,1,2,128,2.25,0.125\n");
  EpochRow e = erow("adam", 0, 3, 0.25, 100);
  e.train_loss = 1.5;
  e.train_accuracy = 0.5;
  e.test_loss = 1.75;
  e.seconds = 10;
  e.images_per_second = 5000;
  EXPECT_EQ(epochs_csv({e}),
            "optimizer,repeat,epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second\n"
            "adam,0,3,1.5,0.5,1.75,0.25,10,5000\n");
  EXPECT_EQ(csv_field("adam"), "adam");
  EXPECT_EQ(csv_field("a\"b"), "\"a\"\"b\"");  // RFC 4180: quotes are doubled inside quotes
  EXPECT_EQ(csv_field("a,\"b"), "\"a,\"\"b\"");
  EXPECT_EQ(csv_number(1.0 / 3.0), "0.333333333");
  EXPECT_EQ(csv_number(NAN), "nan");
}

TEST(TrainOutputs, MovingAverageAndBands) {
  EXPECT_EQ(moving_average({1, 2, 3, 4, 5, 6}, 5), (std::vector<double>{3, 4}));
  EXPECT_TRUE(moving_average({1, 2, 3}, 5).empty());
  const PlotSeries b = band("x", {1, 2, 3}, {{1, 4, 5}, {3, 2}, {2, 3, 9}});
  EXPECT_EQ(b.x, (std::vector<double>{1, 2}));  // the shortest run bounds the band
  EXPECT_EQ(b.y, (std::vector<double>{2, 3}));
  EXPECT_EQ(b.lo, (std::vector<double>{1, 2}));
  EXPECT_EQ(b.hi, (std::vector<double>{3, 4}));
  EXPECT_TRUE(band("one", {1, 2}, {{5, 6}}).lo.empty());  // one run: no band
  EXPECT_EQ(mean_std({1, 3, NAN}), (std::pair<double, double>{2, std::sqrt(2.0)}));
}

TEST(TrainOutputs, FiguresAreValidPngs) {
  if (!apps::gnuplot_missing_reason().empty()) GTEST_SKIP() << apps::gnuplot_missing_reason();
  const auto dir = fs::temp_directory_path() / "ember-test-plots";
  fs::remove_all(dir);
  fs::create_directories(dir);
  RunState s;
  s.config.repeats = 2;
  s.config.epochs = 3;
  s.config.sweep = "lr=0.1,0.01";
  for (const std::string o : {"sgd:lr=0.1", "sgd:lr=0.01", "adam_x"})
    for (int r = 0; r < 2; ++r) {
      RunResult res;
      res.optimizer = o;
      res.base = o == "adam_x" ? "adam_x" : "sgd";
      res.lr = o == "sgd:lr=0.1" ? 0.1 : 0.01;
      res.repeat = r;
      res.final_test_accuracy = o == "sgd:lr=0.1" ? 0.5 + 0.1 * r : 0.3;
      res.diverged = o == "adam_x";
      res.energy_source = "unavailable: test";
      s.results.push_back(res);
      for (int i = 0; i < 20; ++i)
        s.history.push_back(hrow(o, r, 1 + i / 10, i + 1, o == "adam_x" && i > 3 ? NAN : 2.3 - 0.05 * i - 0.1 * r,
                                 0.1 + 0.02 * i));
      if (o != "adam_x")
        for (int e = 1; e <= 3; ++e) s.epochs.push_back(erow(o, r, e, 0.2 * e + 0.05 * r, 100 * e, kNaN));
    }
  const auto problems = draw_all_plots(dir.string(), s, parse_shift("2:labels", 3));
  EXPECT_TRUE(problems.empty()) << problems[0];
  for (const char* f : {"training_metrics.png", "test_accuracy.png", "energy.png", "sweep.png", "shift.png"})
    EXPECT_TRUE(is_png(dir / f)) << f;
  fs::remove_all(dir);
}

TEST(Energy, RaplSumsPackagesAndHandlesWrapAround) {
  auto write = [](const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  };
  const auto root = fs::temp_directory_path() / "ember-fake-powercap";
  fs::remove_all(root);
  write(root / "intel-rapl:0" / "energy_uj", "900\n");
  write(root / "intel-rapl:0" / "max_energy_range_uj", "1000\n");
  write(root / "intel-rapl:1" / "energy_uj", "5000\n");
  write(root / "intel-rapl:1" / "max_energy_range_uj", "1000000\n");
  write(root / "intel-rapl:0:0" / "energy_uj", "123\n");  // a subzone (core): part of package 0, not added
  write(root / "intel-rapl:0:0" / "max_energy_range_uj", "1000\n");
  write(root / "intel-rapl-mmio:0" / "energy_uj", "77\n");  // the same package through MMIO: not added
  write(root / "intel-rapl-mmio:0" / "max_energy_range_uj", "1000\n");
  auto meter = make_rapl_meter(root.string());
  ASSERT_EQ(meter->source(), "rapl");
  EXPECT_TRUE(meter->available());
  write(root / "intel-rapl:0" / "energy_uj", "100\n");   // wrapped: 900 -> 1000 -> 100 is 200 uJ
  write(root / "intel-rapl:1" / "energy_uj", "7000\n");  // 2000 uJ
  meter->sample();
  EXPECT_DOUBLE_EQ(meter->joules(), 2200e-6);
  write(root / "intel-rapl:0" / "energy_uj", "400\n");  // 300 uJ more
  meter->sample();
  EXPECT_DOUBLE_EQ(meter->joules(), 2500e-6);
  fs::remove_all(root);
}

TEST(Energy, UnavailableSaysWhy) {
  auto none = make_rapl_meter("/nonexistent/powercap");
  EXPECT_FALSE(none->available());
  EXPECT_NE(none->source().find("unavailable: no RAPL counters"), std::string::npos) << none->source();
  none->sample();
  EXPECT_EQ(none->joules(), 0.0);
  const auto empty = fs::temp_directory_path() / "ember-empty-powercap";
  fs::create_directories(empty);
  EXPECT_NE(make_rapl_meter(empty.string())->source().find("no RAPL package zones"), std::string::npos);
  // Without an NVIDIA driver NVML is unavailable and says so; with one it must be "nvml".
  auto nvml = make_nvml_meter(0);
  EXPECT_TRUE(nvml->source() == "nvml" || nvml->source().rfind("unavailable: ", 0) == 0) << nvml->source();
}

TEST(Runs, SweepsAndRepeatsExpandToTheFullGrid) {
  EXPECT_EQ(parse_sweep("lr=0.1,0.01"), (std::vector<double>{0.1, 0.01}));
  const auto log = parse_sweep("lr=1e-4:1e-1:4");
  ASSERT_EQ(log.size(), 4u);
  EXPECT_NEAR(log[0], 1e-4, 1e-15);
  EXPECT_EQ(log[1], 1e-3);  // rounded to 6 significant digits: no 0.0010000000000000002
  EXPECT_NEAR(log[3], 1e-1, 1e-12);
  EXPECT_EQ(parse_sweep("lr=0.5:0.1:1"), (std::vector<double>{0.5}));
  for (const char* bad : {"lr=abc", "lr=1:0.1:0", "lr=1:0.1", "momentum=0.9", "lr=", "lr=-1", "lr=1:2:x"})
    EXPECT_THROW(parse_sweep(bad), UsageError) << bad;
  EXPECT_EQ(with_lr("sgd:lr=0.01,momentum=0.9", 0.1), "sgd:lr=0.1,momentum=0.9");
  EXPECT_EQ(with_lr("adam", 0.003), "adam:lr=0.003");
  EXPECT_EQ(with_lr("nag:momentum=0.8, lr = 2", 0.5), "nag:lr=0.5,momentum=0.8");
  TrainConfig c;
  c.optimizers = {"sgd:momentum=0.9", "adam"};
  c.sweep = "lr=0.1,0.01,0.001";
  c.repeats = 2;
  c.seed = 7;
  validate(c);
  const auto& runs = c.parsed.runs;
  ASSERT_EQ(runs.size(), 2u * 3 * 2);
  EXPECT_EQ(runs[0].optimizer, "sgd:lr=0.1,momentum=0.9");
  EXPECT_EQ(runs[1].seed, 8u);
  EXPECT_EQ(runs[1].repeat, 1);
  EXPECT_EQ(runs[11].optimizer, "adam:lr=0.001");
  EXPECT_EQ(runs[11].base, "adam");
  c.sweep.clear();
  c.repeats = 1;
  validate(c);
  EXPECT_EQ(c.parsed.runs.size(), 2u);
  // Millions of runs (from a command line or a damaged checkpoint) are refused before any is
  // expanded.
  c.sweep = "lr=1e-4:1:9999";
  c.repeats = 1000;
  EXPECT_THROW(validate(c), UsageError);
}

TEST(Runs, ShiftsParseAndThePermutationHasNoFixedPoint) {
  EXPECT_EQ(parse_shift("", 5).kind, ShiftKind::None);
  const Shift s = parse_shift("3:labels", 5);
  EXPECT_EQ(s.kind, ShiftKind::Labels);
  EXPECT_EQ(s.epoch, 3);
  EXPECT_EQ(parse_shift("5:classes", 5).kind, ShiftKind::Classes);
  for (const char* bad : {"0:labels", "1:labels", "3:nonsense", "6:labels", "labels", "x:labels", "3:"})
    EXPECT_THROW(parse_shift(bad, 5), UsageError) << bad;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const auto p = shift_permutation(seed);
    ASSERT_EQ(p.size(), 10u);
    EXPECT_EQ(std::set<int64_t>(p.begin(), p.end()).size(), 10u);
    for (int64_t i = 0; i < 10; ++i) EXPECT_NE(p[i], i) << "seed " << seed;
  }
  EXPECT_EQ(shift_permutation(3), shift_permutation(3));
  EXPECT_NE(shift_permutation(3), shift_permutation(4));
}

TEST(Runs, TargetAndShiftMilestonesOnACraftedHistory) {
  TrainConfig c;
  c.epochs = 5;
  c.target_accuracy = 0.6;
  c.shift = "3:labels";
  validate(c);
  RunRecord run;
  const RunResult& r = run.result;
  const double acc[] = {0.4, 0.65, 0.2, 0.5, 0.7};  // target at epoch 2; shift at 3; recovered at 5
  for (int e = 1; e <= 5; ++e) {
    run.epochs.push_back(erow("sgd", 0, e, acc[e - 1], 1000 * e, 2.0));
    record_milestones(c, run, e == 2 ? 0.05 : kNaN);
  }
  EXPECT_EQ(r.images_to_target, 2000);
  EXPECT_EQ(r.seconds_to_target, 2.0);
  EXPECT_EQ(r.joules_to_target, 4.0);
  EXPECT_EQ(r.accuracy_before_shift, 0.65);
  EXPECT_EQ(r.accuracy_after_shift, 0.05);  // the probe on the shifted data before training on it
  EXPECT_EQ(r.images_to_recover, 3000);  // from the end of epoch 2 (2000) to the end of epoch 5 (5000)
  RunRecord never;
  c.target_accuracy = 0.9;
  for (const EpochRow& row : run.epochs) {
    never.epochs.push_back(row);
    record_milestones(c, never, kNaN);
  }
  EXPECT_EQ(never.result.images_to_target, -1);
}

TEST(Runs, BestLearningRatePerOptimiserIgnoresDivergedRuns) {
  std::vector<RunResult> results;
  auto add = [&](const std::string& base, double lr, double acc, bool diverged) {
    RunResult r;
    r.base = base;
    r.optimizer = with_lr(base, lr);
    r.lr = lr;
    r.final_test_accuracy = acc;
    r.diverged = diverged;
    results.push_back(r);
  };
  add("sgd", 1.0, 0.9, true);
  add("sgd", 0.1, 0.6, false);
  add("sgd", 0.01, 0.5, false);
  add("adam", 0.001, 0.7, false);
  const auto best = best_learning_rates(results);
  ASSERT_EQ(best.size(), 2u);
  EXPECT_EQ(best[0], (std::pair<std::string, double>{"sgd", 0.1}));
  EXPECT_EQ(best[1], (std::pair<std::string, double>{"adam", 0.001}));
  EXPECT_EQ(sweep_csv(results).substr(0, 58), "optimizer,lr,repeat,final_test_accuracy,best_test_accuracy");
}

}  // namespace
}  // namespace ember::train
