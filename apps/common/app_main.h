// The shape of every ember program's main(): parse flags with CLI11, run, and turn every
// failure into one line on stderr and a defined exit code.
//   0   success (and --help)
//   1   a data or runtime error (missing file, no GPU for --device cuda, CUDA error, ...)
//   2   a usage error (bad flag, bad value, bad optimiser spec)
//   130 interrupted (Ctrl-C), for programs that handle it
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace ember::apps {

constexpr int kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitInterrupted = 130;

// Parses argv into `app`, then runs `body` (its return value is the exit code).
int run_main(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

// Words put before every error and warning line (run_main's, ProgressLine::warn's): empty by
// default; "[rank r] " on rank r > 0 of a job started by mpirun/srun (ember-train), so that
// the lines of several ranks in one terminal say whose they are.
void set_stderr_prefix(const std::string& prefix);
const std::string& stderr_prefix();

}  // namespace ember::apps
