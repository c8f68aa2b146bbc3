// ember-train's comparison grid dealt over two ranks (`mpirun -np 2`, one thread each, Note
// [grid over ranks]): the output files equal, row for row, those of one process with one
// thread; resuming the finished folder trains nothing; a run count that does not divide by the
// ranks leaves the last round short. Skips, saying why, without MPI.
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "core/dist/communicator.h"
#include "tests/apps/train_helpers.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;
using namespace testing;

nlohmann::json summary_of_folder(const fs::path& out) {
  TrainConfig folder;
  folder.out = out.string();
  return summary_of(folder);
}

// Three runs (not a multiple of two ranks): 96 synthetic images, batch 16, 2 epochs.
std::string grid_args(const fs::path& out) {
  return "--data synthetic:96,32 --arch resnet18 --epochs 2 --batch-size 16 --device cpu --log-every 1 --quiet "
         "--threads 1 --optimizer sgd:lr=0.05,momentum=0.9 --optimizer adam:lr=0.002 --optimizer rmsprop:lr=0.001 "
         "--out " +
         out.string();
}

Command run_on_two_ranks(const std::string& args) { return run_on_ranks(2, args); }

// summary.json's runs without what differs from run to run (times, speeds, energy).
nlohmann::json comparable_summary(const fs::path& out) {
  const nlohmann::json summary = summary_of_folder(out);  // kept alive: the loop reads into it
  nlohmann::json kept = nlohmann::json::array();
  for (nlohmann::json r : summary.at("runs")) {
    for (const char* varying : {"train_seconds", "wall_seconds", "images_per_second", "energy_joules",
                                "energy_source", "seconds_to_target", "joules_to_target"})
      r.erase(varying);
    for (nlohmann::json& e : r.at("epochs")) {
      e.erase("train_seconds");
      e.erase("joules");
    }
    kept.push_back(r);
  }
  return kept;
}

TEST(TrainRanks, GridOnTwoRanksWritesWhatOneProcessWrites) {
  if (!dist::mpi_built()) GTEST_SKIP() << "this build has no MPI (EMBER_MPI=OFF or none found)";
  const fs::path base = fs::temp_directory_path() / ("ember-train-ranks-" + std::to_string(::getpid()));
  fs::remove_all(base);
  const Command one = run_binary(grid_args(base / "one"));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const Command two = run_on_two_ranks(grid_args(base / "two"));
  ASSERT_EQ(two.exit_code, 0) << two.out << two.err;
  EXPECT_EQ(deterministic_part(base / "two"), deterministic_part(base / "one"));
  EXPECT_EQ(read_lines(base / "two" / "history.csv").size(), read_lines(base / "one" / "history.csv").size());
  EXPECT_EQ(comparable_summary(base / "two"), comparable_summary(base / "one"));
  EXPECT_EQ(comparable_summary(base / "two").size(), 3u);
  for (const char* file : {"history.csv", "epochs.csv", "summary.json", "checkpoint.safetensors"})
    EXPECT_TRUE(fs::exists(base / "two" / file)) << file;

  // Resuming the finished folder on two ranks deals no run and leaves the rows as they were.
  const Command again = run_on_two_ranks("--resume " + (base / "two").string() + " --quiet");
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(deterministic_part(base / "two"), deterministic_part(base / "one"));
  fs::remove_all(base);
}

}  // namespace
}  // namespace ember::train
