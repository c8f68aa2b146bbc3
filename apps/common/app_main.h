// The shape of every ember program's main(): parse flags with CLI11, run, and turn every
// failure into one line on stderr and a defined exit code.
//   0   success (and --help)
//   1   a data or runtime error (missing file, no GPU for --device cuda, CUDA error, ...)
//   2   a usage error (bad flag, bad value, bad optimiser spec)
//   130 interrupted (Ctrl-C), for programs that handle it
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace ember::apps {

constexpr int kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitInterrupted = 130;

// Parses argv into `app`, then runs `body` (its return value is the exit code).
int run_main(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

}  // namespace ember::apps
