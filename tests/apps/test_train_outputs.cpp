// ember-train's output pieces: CSV layout, moving average, figures.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "apps/common/gnuplot.h"
#include "apps/ember-train/energy.h"
#include "apps/ember-train/history.h"
#include "apps/ember-train/plots.h"

namespace ember::train {
namespace {

bool is_png(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in.gcount() == 8 && std::string(magic + 1, 3) == "PNG" && std::filesystem::file_size(p) > 1000;
}

TEST(TrainOutputs, CsvHeadersAndQuoting) {
  std::vector<HistoryRow> h = {{"sgd:lr=0.01,momentum=0.9", 1, 2, 512, 2.25, 0.125}};
  EXPECT_EQ(history_csv(h),
            "optimizer,epoch,batch,images_seen,loss,accuracy\n\"sgd:lr=0.01,momentum=0.9\",1,2,512,2.25,0.125\n");
  std::vector<EpochRow> e = {{"adam", 3, 1.5, 0.5, 1.75, 0.25, 10, 5000}};
  EXPECT_EQ(epochs_csv(e),
            "optimizer,epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second\n"
            "adam,3,1.5,0.5,1.75,0.25,10,5000\n");
  EXPECT_EQ(csv_field("adam"), "adam");
  EXPECT_EQ(csv_field("a\"b"), "\"a\"\"b\"");  // RFC 4180: quotes are doubled inside quotes
  EXPECT_EQ(csv_field("a,\"b"), "\"a,\"\"b\"");
  EXPECT_EQ(csv_number(1.0 / 3.0), "0.333333333");
  EXPECT_EQ(csv_number(NAN), "nan");
}

TEST(TrainOutputs, MovingAverageIsNumpyValidMode) {
  EXPECT_EQ(moving_average({1, 2, 3, 4, 5, 6}, 5), (std::vector<double>{3, 4}));
  EXPECT_TRUE(moving_average({1, 2, 3}, 5).empty());
  EXPECT_EQ(moving_average({2, 4}, 1), (std::vector<double>{2, 4}));
}

TEST(TrainOutputs, FiguresAreValidPngs) {
  if (!apps::gnuplot_missing_reason().empty()) GTEST_SKIP() << apps::gnuplot_missing_reason();
  const auto dir = std::filesystem::temp_directory_path() / "ember-test-plots";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::vector<HistoryRow> h;
  std::vector<EpochRow> e;
  for (int i = 0; i < 20; ++i) {
    h.push_back({"sgd:lr=0.1,momentum=0.9", 1 + i / 10, 2 * (i + 1), 64 * (i + 1), 2.3 - 0.05 * i, 0.1 + 0.02 * i});
    h.push_back({"adam_x", 1 + i / 10, 2 * (i + 1), 64 * (i + 1), i < 3 ? 2.0 : NAN, 0.1});  // diverged
  }
  e.push_back({"sgd:lr=0.1,momentum=0.9", 1, 2, 0.2, 2, 0.2, 1, 100});
  e.push_back({"sgd:lr=0.1,momentum=0.9", 2, 1.5, 0.4, 1.6, 0.35, 1, 100});
  const auto problems = draw_training_plots(dir.string(), {"sgd:lr=0.1,momentum=0.9", "adam_x"}, h, e);
  EXPECT_TRUE(problems.empty()) << problems[0];
  EXPECT_TRUE(is_png(dir / "training_metrics.png"));
  EXPECT_TRUE(is_png(dir / "test_accuracy.png"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ember::train


namespace ember::train {
namespace {

void write(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

TEST(Energy, RaplSumsPackagesAndHandlesWrapAround) {
  const auto root = std::filesystem::temp_directory_path() / "ember-fake-powercap";
  std::filesystem::remove_all(root);
  write(root / "intel-rapl:0" / "energy_uj", "900\n");
  write(root / "intel-rapl:0" / "max_energy_range_uj", "1000\n");
  write(root / "intel-rapl:1" / "energy_uj", "5000\n");
  write(root / "intel-rapl:1" / "max_energy_range_uj", "1000000\n");
  write(root / "intel-rapl:0:0" / "energy_uj", "123\n");  // a subzone (core): part of package 0, not added
  write(root / "intel-rapl:0:0" / "max_energy_range_uj", "1000\n");
  auto meter = make_rapl_meter(root.string());
  ASSERT_EQ(meter->source(), "rapl");
  EXPECT_TRUE(meter->available());
  write(root / "intel-rapl:0" / "energy_uj", "100\n");  // wrapped: 900 -> 1000 -> 100 is 200 uJ
  write(root / "intel-rapl:1" / "energy_uj", "7000\n");  // 2000 uJ
  meter->sample();
  EXPECT_DOUBLE_EQ(meter->joules(), 2200e-6);
  write(root / "intel-rapl:0" / "energy_uj", "400\n");  // 300 uJ more
  meter->sample();
  EXPECT_DOUBLE_EQ(meter->joules(), 2500e-6);
  std::filesystem::remove_all(root);
}

TEST(Energy, UnavailableSaysWhy) {
  auto none = make_rapl_meter("/nonexistent/powercap");
  EXPECT_FALSE(none->available());
  EXPECT_NE(none->source().find("unavailable: no RAPL counters"), std::string::npos) << none->source();
  none->sample();
  EXPECT_EQ(none->joules(), 0.0);
  const auto empty = std::filesystem::temp_directory_path() / "ember-empty-powercap";
  std::filesystem::create_directories(empty);
  EXPECT_NE(make_rapl_meter(empty.string())->source().find("no RAPL package zones"), std::string::npos);
  // Without an NVIDIA driver NVML is unavailable and says so; with one it must be "nvml".
  auto nvml = make_nvml_meter(0);
  EXPECT_TRUE(nvml->source() == "nvml" || nvml->source().rfind("unavailable: ", 0) == 0) << nvml->source();
}

}  // namespace
}  // namespace ember::train
