// Training one run of the comparison (one optimiser spec, learning rate and seed), epoch by
// epoch, from a fresh start or from a checkpoint.
//
// A run is a unit: RunTrainer reads what all runs share (TrainEnvironment) and writes only the
// run's own RunRecord (result, history and epoch rows) and Progress. So a caller can deal runs
// to processes, gather their records (RunState::add) and leave the files to one writer;
// run.cpp does it in one process, one run after another.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apps/common/progress.h"
#include "apps/common/train_step.h"
#include "apps/ember-train/data_parallel.h"
#include "apps/ember-train/data_plan.h"
#include "apps/ember-train/energy.h"
#include "apps/ember-train/log_window.h"
#include "apps/ember-train/run_loaders.h"
#include "apps/ember-train/run_state.h"
#include "core/allocator.h"
#include "core/device.h"
#include "nn/resnet.h"
#include "nn/safetensors.h"
#include "optim/flat_parameters.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"

namespace ember::train {

// What every run of a comparison shares, and how a run reports back.
struct TrainEnvironment {
  const TrainConfig& config;  // validated: config.parsed holds every option
  Device device;
  const DataPlan& data;
  apps::ProgressLine& progress;
  std::string out_dir;  // --save-models writes model-<k>.safetensors here
  // Polled after every step: true asks for a checkpoint and a clean stop (Ctrl-C).
  std::function<bool()> stop_requested;
  // Writes a checkpoint of the comparison with this run's model and optimiser state; the
  // run's record and progress are up to date when it is called (at every epoch end but the
  // last, and when stopped). Called on every rank (the ZeRO-1 state is gathered).
  std::function<void(const nn::Module&, const optim::StateDict&)> save_checkpoint;
  // --data-parallel: the ranks that train each run together (Note [data-parallel
  // ember-train]); null: this process trains alone.
  const RankComms* data_parallel = nullptr;
  // Whether this process writes files (--save-models): rank 0 of a data-parallel job.
  bool writes_files = true;
};

enum class Outcome { Finished, Interrupted };

class RunTrainer {
 public:
  // Run `progress.run` of config.parsed.runs: from its start (an empty record and
  // Progress{run}), or where a checkpoint left it (record and progress as loaded, `resume`
  // holding its model and optimiser tensors).
  RunTrainer(const TrainEnvironment& env, RunRecord& record, Progress& progress,
             const nn::SafetensorsContents* resume);
  ~RunTrainer();

  // Every epoch left, each in the phases below, then finish(). Finished also when the loss
  // diverged (recorded in the result); Interrupted once stopped and checkpointed.
  Outcome train();

 private:
  using Clock = std::chrono::steady_clock;

  // Construction, in this order: the model, optimiser and step; the result's fixed fields;
  // the loaders, steps per epoch and lr schedule.
  void build(const nn::SafetensorsContents* resume);
  void describe_result();
  void plan_steps();

  // The phases of an epoch.
  bool train_epoch();  // the remaining batches; false when stopped (checkpoint written)
  void end_epoch();    // the last partial window; the epoch's training time
  void evaluate();     // the epoch row, milestones and the epoch's line
  void next_epoch();   // the epoch sums reset; a checkpoint unless it was the last
  void checkpoint(bool inside_epoch);
  void finish();       // --save-models and the run's totals

  void train_batch(const data::Batch& batch);
  void note_cuda_graph();
  void show_progress();
  EpochRow epoch_row(double test_loss, double test_accuracy);
  double probe_shifted_accuracy(int epoch);  // NaN except after the last epoch before a shift
  double joules();                           // of this run so far; NaN without a meter
  bool diverged() const { return !windows_.diverged_at().empty(); }
  bool stop_requested();  // agreed over the ranks under --data-parallel
  // After the optimiser moved the parameters (Schedule-Free's x, ASGD's averages): --zero1
  // gathers the shards' (collective); empty otherwise.
  std::function<void()> parameters_moved();

  const TrainEnvironment& env_;
  const TrainConfig& config_;
  const RunSpec& run_;
  RunRecord& record_;
  Progress& progress_;
  std::string label_;  // "[2/4] adam:lr=0.001", with " (repeat r)" under --repeats
  Clock::time_point wall_start_;
  double wall_before_;  // wall seconds of this run before this process
  std::unique_ptr<EnergyMeter> energy_;
  Allocator& allocator_;

  std::unique_ptr<nn::ResNet18> model_;
  std::unique_ptr<optim::FlatParameters> flat_;
  std::unique_ptr<optim::Optimizer> own_optimizer_;  // one process
  std::unique_ptr<DataParallelRun> parallel_;        // --data-parallel: owns the optimiser
  optim::Optimizer* optimizer_ = nullptr;
  std::unique_ptr<TrainStep> step_;                  // one process
  bool reported_graph_failure_ = false;

  RunLoaders loaders_;
  std::vector<int64_t> steps_in_epoch_;  // of each epoch (the data can change at a shift)
  int64_t total_steps_ = 0;
  int64_t batches_before_epoch_ = 0;  // global batches of the epochs before the current one
  std::unique_ptr<optim::LrSchedule> schedule_;  // null: each group's lr throughout
  std::vector<double> base_lrs_;                 // the spec's lr of each group

  LogWindows windows_;
  Clock::time_point epoch_start_;
  double epoch_seconds_before_ = 0;  // of the current epoch, before this process (resumed mid-epoch)
};

}  // namespace ember::train
