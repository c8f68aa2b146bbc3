// The configuration of one ember-train run: every flag, its default (the seed experiment)
// and its validation. Saved in summary.json and in checkpoints, so that --resume continues
// the same run. validate() parses every option once into TrainConfig::parsed, which is what
// training reads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "apps/ember-train/runs.h"
#include "core/device.h"
#include "core/dtype.h"
#include "data/augment.h"
#include "nn/resnet.h"
#include "optim/lr_schedule.h"

namespace ember::train {

// The flags as validate() parsed them. The strings of TrainConfig stay as given: they are
// what summary.json and checkpoints save.
struct ParsedOptions {
  std::vector<RunSpec> runs;             // --optimizer x --sweep x --repeats, each spec parsed
  std::vector<double> sweep_lrs;         // --sweep (empty: each spec's own lr)
  nn::Stem stem = nn::Stem::ImageNet;    // --arch
  DType compute_dtype = DType::Float32;  // --precision: Float32 or BFloat16
  data::Augment augment = data::Augment::None;
  data::Normalization normalization = data::Normalization::half();
  // --lr-schedule: none is Constant (with --warmup-epochs, or no schedule at all).
  optim::ScheduleKind lr_schedule = optim::ScheduleKind::Constant;
  Shift shift;
  std::vector<int64_t> classes;   // --classes (empty: all ten)
};

struct TrainConfig {
  std::string data = "auto";  // DIR | synthetic[:N,M] | auto (see resolve_data_source)
  std::string arch = "resnet18";
  std::vector<std::string> optimizers;  // empty: the seed's four
  int epochs = 10;
  int64_t batch_size = 256;
  std::string device = "auto";
  uint64_t seed = 0;
  std::string augment = "none";
  std::string normalize = "half";
  std::string lr_schedule = "none";
  double warmup_epochs = 0;
  double label_smoothing = 0;
  bool freeze_backbone = false;
  bool cuda_graph = false;    // capture the training step into a CUDA graph (GPU only)
  std::string precision = "fp32";  // fp32 or bf16 (mixed precision, nn/resnet.h)
  bool channels_last = false;      // NHWC activations (nn/resnet.h)
  bool deterministic = false;      // deterministic cuDNN algorithms, chosen the same way every run
  int log_every = 2;
  int64_t limit_train = -1;  // < 0: all
  int64_t limit_test = -1;
  std::string out;            // default runs/<date-time>
  std::string resume;
  bool print_model = false;
  bool quiet = false;
  int threads = 0;            // CPU threads; 0: EMBER_NUM_THREADS or all cores
  // How this process trains, not what (not saved: a resume chooses again, on any rank count):
  bool data_parallel = false;  // under a launcher: the ranks train each run together
  bool zero1 = false;          // with data_parallel: ZeRO-1 optimiser state
  bool save_models = false;   // write each run's final weights
  // The comparison made fair and complete (issue 10):
  int repeats = 1;             // runs per optimiser, seeds seed..seed+repeats-1
  std::string sweep;           // "lr=A:B:N" or "lr=v1,v2,..."; empty: each spec's lr
  double target_accuracy = 0;  // > 0: report images, seconds and joules to reach it
  std::string shift;           // "E:labels" or "E:classes"; empty: none
  std::string weights;         // start from these weights (safetensors, torchvision names)
  bool reset_fc = false;       // re-initialise fc after loading --weights
  std::string classes;         // "0-4", "0,2,7": train and test on these classes only
  // Equal tuning budgets (issue 20, tuning.h): N trials per optimiser over its search space.
  int tune = 0;                      // 0: no tuning
  std::vector<std::string> spaces;   // --space overrides: NAME:key=LOW:HIGH[:SCALE],...
  std::string phase;                 // "" (as given), "tuning" or "final": which phase of --tune this is
  // --workload (issue 20, workloads.h): the tasks compared on; empty: --arch on --data. Not
  // saved: each workload's folder holds an ordinary comparison's configuration.
  std::vector<std::string> workloads;

  ParsedOptions parsed;        // filled by validate()

  // The seed's optimisers, as specs.
  static std::vector<std::string> seed_optimizers();
  std::vector<std::string> optimizer_specs() const { return optimizers.empty() ? seed_optimizers() : optimizers; }
};

// Declares every flag on `app`, bound to `config` (defaults as above, help for each).
void add_flags(CLI::App& app, TrainConfig& config);
// Checks every value (also those CLI11 checks, for a configuration read from a checkpoint)
// and parses every option into config.parsed: UsageError naming the flag.
void validate(TrainConfig& config);

// The saved fields (not resume, print_model, quiet or parsed). config_from_json: Error
// naming the field when one is missing or of the wrong type; validate() checks the values.
nlohmann::json to_json(const TrainConfig& config);
TrainConfig config_from_json(const nlohmann::json& j);

}  // namespace ember::train
