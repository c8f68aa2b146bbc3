#include "tests/apps/train_helpers.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace ember::train::testing {

namespace fs = std::filesystem;

TrainConfig tiny(const std::string& name) {
  TrainConfig c;
  c.data = "synthetic:96,32";
  c.arch = "resnet18";
  c.epochs = 2;
  c.batch_size = 16;
  c.device = "cpu";
  c.log_every = 1;
  c.quiet = true;
  // The process id too: ctest runs tests in parallel processes.
  c.out = (fs::temp_directory_path() / ("ember-train-test-" + name + "-" + std::to_string(::getpid()))).string();
  fs::remove_all(c.out);
  return c;
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> split_csv_simple(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string f; std::getline(ss, f, ',');) out.push_back(f);
  return out;
}

bool is_png(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in.gcount() == 8 && std::string(magic + 1, 3) == "PNG";
}

nlohmann::json summary_of(const TrainConfig& config) {
  std::ifstream in(fs::path(config.out) / "summary.json");
  return nlohmann::json::parse(in);
}

std::string deterministic_part(const fs::path& out) {
  std::string text;
  for (const std::string& line : read_lines(out / "history.csv")) text += line + "\n";
  for (const std::string& line : read_lines(out / "epochs.csv")) {
    auto f = split_csv_simple(line);
    for (size_t i = 0; i < 7 && i < f.size(); ++i) text += f[i] + ",";
    text += "\n";
  }
  return text;
}

std::vector<double> history_column(const fs::path& out, int column) {
  std::vector<double> values;
  const auto lines = read_lines(out / "history.csv");
  for (size_t i = 1; i < lines.size(); ++i) values.push_back(std::stod(split_csv_simple(lines[i]).at(column)));
  return values;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (char ch : line) {
    if (ch == '"') quoted = !quoted;
    else if (ch == ',' && !quoted) fields.emplace_back();
    else fields.back() += ch;
  }
  return fields;
}

Command run_binary(const std::string& args, const std::string& binary) {
  return run_command(std::string(EMBER_BINARY_DIR) + "/bin/" + binary + " " + args);
}

Command run_command(const std::string& command) {
  const fs::path out = fs::temp_directory_path() / ("ember-train-test-stdout-" + std::to_string(::getpid()));
  const fs::path err = fs::temp_directory_path() / ("ember-train-test-stderr-" + std::to_string(::getpid()));
  const std::string cmd = command + " > " + out.string() + " 2> " + err.string();
  const int status = std::system(cmd.c_str());
  Command result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = slurp(out);
  result.err = slurp(err);
  fs::remove(out);
  fs::remove(err);
  return result;
}

Command run_on_ranks(int ranks, const std::string& args, int timeout_seconds) {
  // Assignments before the command: for mpirun and its ranks only, not this test's later runs.
  const std::string environment =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
      "OMPI_MCA_btl_vader_single_copy_mechanism=none " EMBER_MPI_SANITIZER_ENV " ";
  const std::string limit = timeout_seconds > 0 ? "timeout " + std::to_string(timeout_seconds) + " " : "";
  return run_command(environment + limit + EMBER_MPIEXEC + " -np " + std::to_string(ranks) + " " + EMBER_BINARY_DIR +
                     "/bin/ember-train " + args);
}

void expect_usage_errors(const std::vector<std::pair<std::string, std::string>>& cases) {
  for (const auto& [args, says] : cases) {
    const Command run = run_binary(args);
    EXPECT_EQ(run.exit_code, 2) << args << "\n" << run.err;
    EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << args << ": not one line:\n" << run.err;
    EXPECT_NE(run.err.find(says), std::string::npos) << args << ": " << run.err << "(expected: " << says << ")";
  }
}

}  // namespace ember::train::testing
