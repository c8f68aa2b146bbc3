#include "apps/ember-train/run.h"

#include <atomic>
#include <cctype>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "apps/common/app_main.h"
#include "apps/common/progress.h"
#include "apps/ember-train/checkpoint.h"
#include "apps/ember-train/data_plan.h"
#include "apps/ember-train/grid_ranks.h"
#include "apps/ember-train/plots.h"
#include "apps/ember-train/report.h"
#include "apps/ember-train/schedule_free.h"
#include "apps/ember-train/statistics.h"
#include "apps/ember-train/summary.h"
#include "apps/ember-train/trainer.h"
#include "apps/ember-train/tuning.h"
#include "apps/ember-train/workload_comparison.h"
#include "core/device.h"
#include "core/dist/communicator.h"
#include "core/dist/launch.h"
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

int kill_rank = -1;
int64_t steps_until_kill = 0;

// stop_requested for rank `rank`, with kill_after_steps' test hook.
std::function<bool()> stop_requested_on(int rank) {
  if (rank != kill_rank || steps_until_kill <= 0) return stop_requested;
  return [steps_left = steps_until_kill]() mutable {
    if (--steps_left == 0) std::raise(SIGKILL);
    return stop_requested();
  };
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

// Where the comparison starts: afresh, or (--resume) where its checkpoint left it, with the
// saved configuration in `config` (only --quiet and --threads come from this command line).
struct Start {
  RunState state;
  LoadedCheckpoint checkpoint;
  bool resuming = false;
};

Start load_start(TrainConfig& config) {
  Start start;
  if (config.resume.empty()) return start;
  const std::string path = checkpoint_path(config.resume);
  EMBER_CHECK(fs::exists(path), "--resume {}: no checkpoint there ({} is missing)", config.resume, path);
  start.checkpoint = load_run_checkpoint(path);
  start.state = start.checkpoint.state;
  start.resuming = true;
  TrainConfig saved = start.state.config;  // the run continues with its own configuration
  saved.out = fs::path(path).parent_path().string();
  saved.quiet = config.quiet;
  saved.threads = config.threads;
  saved.data_parallel = config.data_parallel;  // how, not what: any rank count resumes
  saved.zero1 = config.zero1;
  config = saved;
  return start;
}

fs::path make_out_dir(TrainConfig& config) {
  if (config.out.empty()) config.out = default_out_dir();
  const fs::path out(config.out);
  std::error_code ec;
  fs::create_directories(out, ec);
  EMBER_CHECK(fs::is_directory(out), "cannot create the output folder {}: {}", out.string(), ec.message());
  return out;
}

void print_header(const TrainConfig& config, const data::DataSplits& data, const DataPlan& plan, Device device,
                  const fs::path& out) {
  if (!config.quiet) {
    std::printf("%s\n", data.description.c_str());
    if (!plan.description.empty()) std::printf("%s\n", plan.description.c_str());
    const ParsedOptions& p = config.parsed;
    std::printf("device: %s; %zu run(s) (%zu optimiser(s)%s%s) x %d epoch(s), batch %lld, %s -> %s\n",
                device_name(device).c_str(), p.runs.size(), config.optimizer_specs().size(),
                p.sweep_lrs.empty() ? "" : fmt::format(" x {} learning rates", p.sweep_lrs.size()).c_str(),
                config.repeats > 1 ? fmt::format(" x {} repeats", config.repeats).c_str() : "", config.epochs,
                static_cast<long long>(config.batch_size), config.arch.c_str(), out.string().c_str());
  }
  if (config.print_model) {
    nn::ResNet18 model(10, config.parsed.stem);
    std::printf("%s\n", nn::format_summary(nn::summarize(model, {3, 32, 32}, config.batch_size)).c_str());
  }
}

// Trains every run left, one after another, gathering each finished run into `state` and
// writing the tables and a checkpoint after it. Returns 130 when stopped by Ctrl-C (the
// checkpoint written), else 0.
int train_runs(dist::Communicator& comm, const RankComms* data_parallel, const TrainConfig& config, Device device,
               const DataPlan& plan, const fs::path& out, RunState& state, const LoadedCheckpoint* resume) {
  apps::ProgressLine progress(10.0, config.quiet);
  const std::string path = checkpoint_path(out.string());
  const bool writer = comm.rank() == 0;  // Note [data-parallel ember-train]: rank 0 writes the files
  auto save = [&](const nn::Module& model, const optim::StateDict& optimizer_state) {
    if (writer) save_run_checkpoint(path, state, &model, &optimizer_state);
  };
  const TrainEnvironment env{config, device, plan, progress, out.string(),
                             stop_requested_on(comm.rank()), save, data_parallel, writer};
  interrupted = false;
  auto previous = std::signal(SIGINT, on_sigint);
  int exit_code = apps::kExitOk;
  const bool grid = comm.size() > 1 && data_parallel == nullptr;
  if (grid) {  // Note [grid over ranks]
    auto after_round = [&](const RunState& s) {
      write_tables(out, s);
      save_run_checkpoint(path, s, nullptr, nullptr);
    };
    exit_code = train_grid_on_ranks({comm, env, after_round}, state);
  }
  while (!grid && state.progress.run < static_cast<int>(config.parsed.runs.size())) {
    const bool inside = resume != nullptr && resume->has_training_state();
    const Outcome outcome = RunTrainer(env, state.current, state.progress, inside ? &resume->contents : nullptr).train();
    resume = nullptr;
    if (outcome == Outcome::Interrupted) {
      if (writer) write_tables(out, state.with_current());
      progress.println(fmt::format("interrupted: checkpoint written; continue with: ember-train --resume {}",
                                   out.string()));
      exit_code = apps::kExitInterrupted;
      break;
    }
    state.add(state.current);
    state.current = RunRecord{};
    state.progress = Progress{};
    state.progress.run = static_cast<int>(state.results.size());
    if (!writer) continue;
    write_tables(out, state);
    save_run_checkpoint(path, state, nullptr, nullptr);
  }
  std::signal(SIGINT, previous);
  // Rank 0 may still be writing: a rank that exited 130 first would make mpirun stop it.
  if (data_parallel != nullptr) comm.barrier();
  return exit_code;
}

// The communicator that reduces a data-parallel job's gradients on `device`; a usage error
// without a launcher or in a build without MPI.
std::unique_ptr<dist::Communicator> data_parallel_communicator(const dist::LaunchInfo& launch, Device device) {
  EMBER_USAGE_CHECK(dist::mpi_built(), "--data-parallel needs a build with MPI (this one has none: configure with "
                                       "-DEMBER_MPI=ON and an MPI installed)");
  EMBER_USAGE_CHECK(launch.launched(),
                    "--data-parallel needs a launcher: start ember-train with mpirun -np N (or srun) and the same flags");
  return dist::make_communicator(device);
}

// The run header's line of a data-parallel job, e.g. "data parallel over 2 ranks (MPI), ZeRO-1
// (optimiser state 1/2 per rank): ...".
std::string data_parallel_header(const dist::Communicator& comm, bool zero1) {
  std::string backend = comm.backend();
  for (char& c : backend) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const int n = comm.size();
  return fmt::format("data parallel over {} ranks ({}){}: rank r trains on rows [r*b/{}, (r+1)*b/{}) of each global "
                     "batch of b; only rank 0 prints progress, the others their warnings and errors as [rank r]",
                     n, backend, zero1 ? fmt::format(", ZeRO-1 (optimiser state 1/{} per rank)", n) : "", n, n);
}

void write_outputs(const fs::path& out, const RunState& state, const Shift& shift, Device device) {
  write_summary((out / "summary.json").string(), state, device);
  if (!state.config.sweep.empty()) write_text_atomic(out / "sweep.csv", sweep_csv(state.results));
  const std::vector<std::string> problems = draw_all_plots(out.string(), state, shift);
  for (const std::string& problem : problems)
    std::fprintf(stderr, "ember-train: note: %s (the CSV files hold every number)\n", problem.c_str());
  const Statistics statistics = compute_statistics(state);
  write_comparison_report({out.string(), state, statistics, device_name(device), problems.empty() ? "" : problems[0]});
  // The tuning phase's trials are compared by tuning.csv, not pair by pair.
  const bool trials = state.config.phase == kPhaseTrials;
  std::printf("%s%s", format_results_table(state).c_str(), trials ? "" : format_statistics(statistics).c_str());
  std::printf("results in %s\n", out.string().c_str());
}

}  // namespace

void stop_after_steps(int64_t steps) { steps_until_stop = steps; }

void kill_after_steps(int rank, int64_t steps) {
  kill_rank = rank;
  steps_until_kill = steps;
}

int run_comparison(TrainConfig config) {
  // Under mpirun/srun: one GPU per local rank, a share of the cores, output from rank 0 only
  // (the others' errors and warnings name their rank).
  const dist::LaunchInfo launch = dist::detect_launch();
  if (launch.rank != 0) apps::set_stderr_prefix(fmt::format("[rank {}] ", launch.rank));
  const bool resuming_tuned = prepare_tuned_resume(config);
  Start start = load_start(config);
  validate(config);  // every usage error before any work
  if (!config.workloads.empty()) validate_workloads(config);
  EMBER_USAGE_CHECK(config.workloads.empty() || launch.size == 1,
                    "--workload runs in one process ({} ranks were started): run it without mpirun/srun",
                    launch.size);
  dist::bind_gpu_by_local_rank(launch);
  const std::unique_ptr<dist::Communicator> comm = dist::make_communicator(Device::cpu());
  if (comm->rank() != 0) config.quiet = true;  // also for --tune's phases (tuning.cpp)
  set_num_threads(config.threads > 0 || !launch.launched()
                      ? config.threads
                      : dist::cpu_threads_for_rank(launch, num_threads(), static_cast<int>(std::thread::hardware_concurrency())));
  // --device auto without a usable GPU warns with CUDA's reason; --device cuda then is an
  // Error (exit 1) with it (Note [device detection] in core/device.cpp).
  const Device device = resolve_device(config.device, "ember-train");
  nn::set_deterministic_convolutions(config.deterministic);
  if (config.cuda_graph && device.is_cpu())
    std::fprintf(stderr, "%sember-train: warning: --cuda-graph needs a GPU; training eagerly on the CPU\n",
                 apps::stderr_prefix().c_str());
  // --data-parallel: the ranks train each run together (Note [data-parallel ember-train]).
  const std::unique_ptr<dist::Communicator> device_comm =
      config.data_parallel ? data_parallel_communicator(launch, device) : nullptr;
  const std::optional<RankComms> ranks =
      device_comm ? std::optional<RankComms>(RankComms{*device_comm, *comm}) : std::nullopt;
  if (config.phase.empty() && comm->rank() == 0) warn_schedule_free_with_lr_schedule(config);  // once, not per --tune phase or rank
  const fs::path out = make_out_dir(config);
  if (!config.workloads.empty()) return run_workloads(config, device);
  if (config.tune > 0 && config.phase.empty()) return run_tuned_comparison(config, resuming_tuned || start.resuming);
  config.data = resolve_data_spec(config.data);
  // Synthetic data has its own fixed seed: every run (and every --seed) sees the same images.
  const data::DataSplits data = data::load_data(config.data, config.limit_train, config.limit_test, /*synthetic_seed=*/0);
  const DataPlan plan = make_data_plan(data, config);
  print_header(config, data, plan, device, out);
  if (ranks && !config.quiet)
    std::printf("%s\n", data_parallel_header(ranks->device, config.zero1).c_str());
  RunState& state = start.state;
  if (!start.resuming) {
    state.config = config;
    state.data_description = data.description + (plan.description.empty() ? "" : "; " + plan.description);
  }
  const int code = train_runs(*comm, ranks ? &*ranks : nullptr, config, device, plan, out, state,
                              start.resuming ? &start.checkpoint : nullptr);
  if (code == apps::kExitOk && comm->rank() == 0) write_outputs(out, state, plan.shift, device);
  return code;
}

}  // namespace ember::train
