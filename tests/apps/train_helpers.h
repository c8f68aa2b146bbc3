// What the ember-train tests share: a run small enough for CI, reading its files, and running
// the program itself.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/ember-train/config.h"

namespace ember::train::testing {

// A run small enough for CI (also under ASan): 96 synthetic images, batch 16, 2 epochs, on the
// CPU, quiet, a point every batch, and the torchvision stem, which shrinks 32x32 inputs to
// 8x8 at once (16x cheaper than the CIFAR stem). Its output folder (in the temporary
// directory, named after `name` and the process) is emptied first.
TrainConfig tiny(const std::string& name);

std::vector<std::string> read_lines(const std::filesystem::path& path);
std::vector<std::string> split_csv_simple(const std::string& line);  // no quoted fields
// One CSV line's fields; a quoted field may hold commas (optimizer specs do).
std::vector<std::string> csv_fields(const std::string& line);
// The whole file (empty when it cannot be read).
std::string slurp(const std::filesystem::path& path);
bool is_png(const std::filesystem::path& path);
nlohmann::json summary_of(const TrainConfig& config);
// history.csv, and epochs.csv without the timing columns (seconds, images/s differ run to
// run): what an interrupted and resumed run must reproduce exactly.
std::string deterministic_part(const std::filesystem::path& out);
// One column of history.csv (0: optimizer ... 5: loss, 6: accuracy), as numbers.
std::vector<double> history_column(const std::filesystem::path& out, int column);

struct Command {
  int exit_code = -1;
  std::string out, err;  // what it printed on stdout and stderr
};
// Runs build/bin/<binary> with `args` (shell words).
Command run_binary(const std::string& args, const std::string& binary = "ember-train");
// Runs a shell command line (e.g. mpirun ... build/bin/ember-train ...).
Command run_command(const std::string& command);
// Runs build/bin/ember-train with `args` on `ranks` ranks under the MPI launcher CMake found,
// with Open MPI's settings for CI (root, oversubscription, no ptrace) and, in the ASan build,
// the leak check with Open MPI's own allocations suppressed: Note [two ranks in CTest] and
// lsan-openmpi.supp in tests/dist. timeout_seconds > 0: mpirun is stopped after that long
// (coreutils' timeout: exit code 124).
Command run_on_ranks(int ranks, const std::string& args, int timeout_seconds = 0);
// Runs ember-train with each case's arguments and expects exit 2 with one line on stderr
// holding the case's text.
void expect_usage_errors(const std::vector<std::pair<std::string, std::string>>& cases);

}  // namespace ember::train::testing
