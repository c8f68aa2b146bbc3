#include "apps/ember-train/run.h"

#include <csignal>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "apps/common/progress.h"
#include "apps/ember-train/checkpoint.h"
#include "apps/ember-train/data_plan.h"
#include "apps/ember-train/runs.h"
#include "apps/ember-train/plots.h"
#include "apps/ember-train/summary.h"
#include "apps/ember-train/trainer.h"
#include "core/device.h"
#include "core/parallel.h"
#include "data/source.h"
#include "nn/conv_algorithms.h"
#include "nn/resnet.h"
#include "nn/summary.h"

namespace ember::train {

namespace {

std::atomic<bool> interrupted{false};
std::atomic<int64_t> steps_until_stop{0};

void on_sigint(int) {
  interrupted = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C stops at once
}

bool stop_requested() {
  if (steps_until_stop > 0 && --steps_until_stop == 0) interrupted = true;
  return interrupted;
}

namespace fs = std::filesystem;

// --data auto: the official binaries in data/, else the real slice in ../shared, else
// synthetic data; one line says which and why.
std::string resolve_data_spec(const std::string& spec) {
  if (spec != "auto") return spec;
  for (const char* dir : {"data/cifar-10-batches-bin", "data"})
    if (fs::exists(fs::path(dir) / "test_batch.bin")) return dir;
  const char* mini = "../shared/data/cifar10-mini";
  if (fs::exists(fs::path(mini) / "test_batch.bin")) {
    std::printf("CIFAR-10 is not in data/cifar-10-batches-bin (scripts/get-cifar10.sh fetches it): using the real "
                "slice in %s\n",
                mini);
    return mini;
  }
  std::printf("CIFAR-10 is not in data/cifar-10-batches-bin (scripts/get-cifar10.sh fetches it) and %s is absent: "
              "using synthetic data\n",
              mini);
  return "synthetic:5000,1000";
}

std::string default_out_dir() {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return std::string("runs/") + stamp;
}

void write_text_atomic(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    EMBER_CHECK(out.good(), "cannot write {}", tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  EMBER_CHECK(!ec, "cannot rename {} to {}: {}", tmp.string(), path.string(), ec.message());
}

void write_tables(const fs::path& out, const RunState& state) {
  write_text_atomic(out / "history.csv", history_csv(state.history));
  write_text_atomic(out / "epochs.csv", epochs_csv(state.epochs));
}

}  // namespace

void stop_after_steps(int64_t steps) { steps_until_stop = steps; }

int run_comparison(TrainConfig config) {
  RunState state;
  LoadedCheckpoint resumed;
  bool resuming = false;
  if (!config.resume.empty()) {
    const std::string path = checkpoint_path(config.resume);
    EMBER_CHECK(fs::exists(path), "--resume {}: no checkpoint there ({} is missing)", config.resume, path);
    resumed = load_run_checkpoint(path);
    const bool quiet = config.quiet;
    const int threads = config.threads;
    state = resumed.state;
    config = state.config;  // the run continues with its own configuration
    config.out = fs::path(path).parent_path().string();
    config.quiet = quiet;
    config.threads = threads;
    resuming = true;
  }
  validate(config);  // every usage error before any work
  const std::vector<RunSpec> runs = expand_runs(config);
  set_num_threads(config.threads);
  // --device auto without a usable GPU warns with CUDA's reason; --device cuda then is an
  // Error (exit 1) with it (Note [device detection] in core/device.cpp).
  const Device device = resolve_device(config.device, "ember-train");
  nn::set_deterministic_convolutions(config.deterministic);
  if (config.cuda_graph && device.is_cpu())
    std::fprintf(stderr, "ember-train: warning: --cuda-graph needs a GPU; training eagerly on the CPU\n");

  if (config.out.empty()) config.out = default_out_dir();
  const fs::path out(config.out);
  std::error_code ec;
  fs::create_directories(out, ec);
  EMBER_CHECK(fs::is_directory(out), "cannot create the output folder {}: {}", out.string(), ec.message());

  config.data = resolve_data_spec(config.data);
  // Synthetic data has its own fixed seed: every run (and every --seed) sees the same images.
  const data::DataSplits data = data::load_data(config.data, config.limit_train, config.limit_test, /*synthetic_seed=*/0);
  const DataPlan plan = make_data_plan(data, config);
  apps::ProgressLine progress(10.0, config.quiet);
  if (!config.quiet) {
    std::printf("%s\n", data.description.c_str());
    if (!plan.description.empty()) std::printf("%s\n", plan.description.c_str());
    std::printf("device: %s; %zu run(s) (%zu optimiser(s)%s%s) x %d epoch(s), batch %lld, %s -> %s\n",
                device_name(device).c_str(), runs.size(), config.optimizer_specs().size(),
                config.sweep.empty() ? "" : fmt::format(" x {} learning rates", parse_sweep(config.sweep).size()).c_str(),
                config.repeats > 1 ? fmt::format(" x {} repeats", config.repeats).c_str() : "", config.epochs,
                static_cast<long long>(config.batch_size), config.arch.c_str(), out.string().c_str());
  }
  if (config.print_model) {
    nn::ResNet18 model(10, config.arch == "resnet18-cifar" ? nn::Stem::Cifar : nn::Stem::ImageNet);
    std::printf("%s\n", nn::format_summary(nn::summarize(model, {3, 32, 32}, config.batch_size)).c_str());
  }
  if (!resuming) {
    state.config = config;
    state.data_description = data.description + (plan.description.empty() ? "" : "; " + plan.description);
  }

  interrupted = false;
  auto previous = std::signal(SIGINT, on_sigint);
  TrainContext ctx{config, runs, device, plan, state, progress, out.string(), stop_requested};
  int exit_code = 0;
  while (state.progress.run < static_cast<int>(runs.size())) {
    const bool inside = resuming && resumed.has_training_state();
    const Outcome outcome = train_run(ctx, inside ? &resumed.contents : nullptr);
    resuming = false;
    write_tables(out, state);
    if (outcome == Outcome::Interrupted) {
      progress.println(fmt::format("interrupted: checkpoint written; continue with: ember-train --resume {}",
                                   out.string()));
      exit_code = 130;
      break;
    }
    state.progress = Progress{};
    state.progress.run = static_cast<int>(state.results.size());
    save_run_checkpoint(checkpoint_path(out.string()), state, nullptr, nullptr);
  }
  std::signal(SIGINT, previous);
  if (exit_code != 0) return exit_code;

  write_summary((out / "summary.json").string(), state, device);
  if (!config.sweep.empty()) write_text_atomic(out / "sweep.csv", sweep_csv(state.results));
  for (const std::string& problem : draw_all_plots(out.string(), state, plan.shift))
    std::fprintf(stderr, "ember-train: note: %s (the CSV files hold every number)\n", problem.c_str());
  std::printf("%s", format_results_table(state).c_str());
  std::printf("results in %s\n", out.string().c_str());
  return 0;
}

}  // namespace ember::train
