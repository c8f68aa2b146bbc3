#include "apps/ember-train/config.h"

#include <fmt/format.h>

#include "apps/ember-train/json_fields.h"
#include "apps/ember-train/runs.h"
#include "apps/ember-train/tuning.h"
#include "core/error.h"
#include "data/dataset.h"
#include "optim/spec.h"

namespace ember::train {

std::vector<std::string> TrainConfig::seed_optimizers() {
  return {"sgd:lr=0.01,momentum=0.9", "adam:lr=0.001", "rmsprop:lr=0.001", "adagrad:lr=0.01"};
}

namespace {

// What is trained, on what and where.
void add_setup_flags(CLI::App& app, TrainConfig& c) {
  app.add_option("--data", c.data,
                 "CIFAR-10 binary folder (data_batch_1..5.bin, test_batch.bin), 'synthetic[:NTRAIN,NTEST]', or 'auto': "
                 "data/cifar-10-batches-bin, else the real slice in ../shared/data/cifar10-mini, else synthetic")
      ->capture_default_str();
  app.add_option("--arch", c.arch, "resnet18 (torchvision's stem, the seed's model) or resnet18-cifar (3x3 stem)")
      ->check(CLI::IsMember({"resnet18", "resnet18-cifar"}))
      ->capture_default_str();
  app.add_option("--optimizer", c.optimizers,
                 "optimiser spec NAME[:key=value,...] or A+B (A for the hidden weights, B for the rest), repeatable "
                 "(e.g. sgd:lr=0.01,momentum=0.9 or muon:lr=0.02+adamw:lr=3e-3); NAME one of " +
                     optim::optimizer_names_text() +
                     "; default: the seed's sgd:lr=0.01,momentum=0.9 adam:lr=0.001 rmsprop:lr=0.001 adagrad:lr=0.01");
  app.add_option("--epochs", c.epochs, "epochs per optimiser")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--batch-size", c.batch_size, "images per training batch")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20))
      ->capture_default_str();
  app.add_option("--device", c.device, "auto (a GPU when there is one, else the CPU), cuda, cuda:N or cpu")
      ->capture_default_str();
  app.add_option("--seed", c.seed, "seed of the initial weights, the batch order and augmentation")->capture_default_str();
  app.add_option("--augment", c.augment, "none, or standard: random 32x32 crop of the 4-pixel-padded image + horizontal flip")
      ->check(CLI::IsMember({"none", "standard"}))
      ->capture_default_str();
  app.add_option("--normalize", c.normalize, "half (mean 0.5, std 0.5, the seed's) or cifar (CIFAR-10's channel statistics)")
      ->check(CLI::IsMember({"half", "cifar"}))
      ->capture_default_str();
}

// How it is trained.
void add_training_flags(CLI::App& app, TrainConfig& c) {
  app.add_option("--lr-schedule", c.lr_schedule,
                 "none (each optimiser's lr throughout), cosine (to 0 over the run) or onecycle")
      ->check(CLI::IsMember({"none", "cosine", "onecycle"}))
      ->capture_default_str();
  app.add_option("--warmup-epochs", c.warmup_epochs, "linear warm-up from 0 to the lr over this many epochs (fractions ok)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--label-smoothing", c.label_smoothing, "label smoothing of the cross-entropy loss, in [0, 1)")
      ->check(CLI::Range(0.0, 0.999999))
      ->capture_default_str();
  app.add_option("--precision", c.precision,
                 "fp32, or bf16: bfloat16 activations and convolutions with float32 master weights, batch-norm "
                 "parameters, fc layer and loss (as torch.autocast with bfloat16)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  app.add_flag("--channels-last", c.channels_last, "NHWC activations: cuDNN's tensor-core layout (for GPUs)");
  app.add_flag("--deterministic", c.deterministic,
               "GPU: deterministic cuDNN convolution algorithms, picked by cuDNN's heuristics instead of timings, so "
               "that a run repeats bit for bit on the same GPU and software (README, 'Reproducibility on a GPU')");
  app.add_flag("--cuda-graph", c.cuda_graph,
               "capture the training step into a CUDA graph after 3 eager steps and replay it (GPU only; the "
               "optimiser becomes capturable; ignored with a warning on the CPU)");
  app.add_flag("--freeze-backbone", c.freeze_backbone,
               "train only the final fully-connected layer (the seed's 'retrained the final layer'); optimiser state "
               "is kept for fc only");
}

// What is recorded and written.
void add_output_flags(CLI::App& app, TrainConfig& c) {
  app.add_option("--log-every", c.log_every, "average training loss and accuracy over this many batches per point")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--limit-train", c.limit_train, "use only the first N training images")->check(CLI::NonNegativeNumber);
  app.add_option("--limit-test", c.limit_test, "use only the first N test images")->check(CLI::NonNegativeNumber);
  app.add_option("--out", c.out, "output folder (default runs/<date-time>)");
  app.add_option("--resume", c.resume, "continue the interrupted run in this folder (its saved configuration is used)");
  app.add_flag("--print-model", c.print_model, "print the model's layers and parameter counts before training");
  app.add_flag("--quiet,-q", c.quiet, "no progress lines: only warnings, errors and the final table");
  app.add_flag("--save-models", c.save_models,
               "write each optimiser's final weights to model-<k>.safetensors (torchvision names; loads in PyTorch)");
}

// The comparison made fair and complete (issue 10), and the CPU threads.
void add_comparison_flags(CLI::App& app, TrainConfig& c) {
  app.add_option("--repeats", c.repeats,
                 "runs per optimiser, with seeds seed..seed+K-1 (repeat r of every optimiser starts from the same "
                 "weights and batch order); figures show the mean and a min-max band")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--sweep", c.sweep,
                 "learning-rate sweep: lr=A:B:N (N values log-spaced from A to B) or lr=v1,v2,...; every optimiser at "
                 "every lr (other hyperparameters from its spec); writes sweep.csv and sweep.png");
  app.add_option("--target-accuracy", c.target_accuracy,
                 "a test accuracy (fraction) to reach: images, seconds and joules until the first epoch that reaches it")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--shift", c.shift,
                 "distribution shift from epoch E on: E:labels permutes the labels (no class in place), E:classes "
                 "trains on classes 0-4 before E and 5-9 from E on");
  app.add_option("--weights", c.weights,
                 "start from these weights (an ember checkpoint, or torchvision's exported by "
                 "scripts/export_torchvision_weights.py), loaded by name");
  app.add_flag("--reset-fc", c.reset_fc, "re-initialise the fc head instead of loading it from --weights");
  app.add_option("--classes", c.classes, "train and test on these classes only, e.g. 0-4 or 0,2,7 (labels unchanged)");
  app.add_option("--tune", c.tune,
                 "equal tuning budgets: N trials per optimiser drawn quasi-randomly (scrambled Halton) from its search "
                 "space, a tenth of the training set held out as validation; each optimiser's best trial (by "
                 "validation accuracy) re-run --repeats times; writes tuning.csv and tuning/")
      ->check(CLI::Range(1, 10000));
  app.add_option("--space", c.spaces,
                 "search-space override for --tune, repeatable: NAME:key=LOW:HIGH[:linear|log|log1m],key=fixed,... "
                 "(e.g. adam:lr=1e-5:1e-1:log,beta1=0.8:0.95); defaults in the README");
  app.add_option("--workload", c.workloads,
                 "run the comparison on this task, repeatable: resnet18 or resnet18-cifar (ResNet-18 with either stem "
                 "on the CIFAR-10 folder --data), synthetic (ResNet-18 on synthetic data), rosenbrock, beale or "
                 "quadratic (ember-paths' 2-D test functions, 100 steps per epoch); several: one folder each and a "
                 "performance profile across them in report.html");
  app.add_option("--threads", c.threads, "CPU threads (default: EMBER_NUM_THREADS or all cores)")
      ->check(CLI::Range(0, 4096));
  app.add_flag("--data-parallel", c.data_parallel,
               "under mpirun/srun: all ranks train each run together, each on its rows of every global batch, "
               "gradients all-reduced (docs/dist.md); rank 0 writes the files");
  app.add_flag("--zero1", c.zero1,
               "with --data-parallel: the optimiser state sharded over the ranks (ZeRO-1; element-wise optimisers "
               "with 32-bit state)");
}

}  // namespace

void add_flags(CLI::App& app, TrainConfig& c) {
  add_setup_flags(app, c);
  add_training_flags(app, c);
  add_output_flags(app, c);
  add_comparison_flags(app, c);
}

namespace {

nn::Stem parse_arch(const std::string& arch) {
  EMBER_USAGE_CHECK(arch == "resnet18" || arch == "resnet18-cifar", "--arch '{}' is not resnet18 or resnet18-cifar",
                    arch);
  return arch == "resnet18-cifar" ? nn::Stem::Cifar : nn::Stem::ImageNet;
}

DType parse_precision(const std::string& precision) {
  EMBER_USAGE_CHECK(precision == "fp32" || precision == "bf16", "--precision '{}' is not fp32 or bf16", precision);
  return precision == "bf16" ? DType::BFloat16 : DType::Float32;
}

optim::ScheduleKind parse_schedule(const std::string& name) {
  if (name == "cosine") return optim::ScheduleKind::Cosine;
  if (name == "onecycle") return optim::ScheduleKind::OneCycle;
  EMBER_USAGE_CHECK(name == "none", "--lr-schedule '{}' is not none, cosine or onecycle", name);
  return optim::ScheduleKind::Constant;
}

// The name only: whether the device is usable here is core's resolve_device (run.cpp).
void check_device_name(const std::string& device) {
  EMBER_USAGE_CHECK(device == "auto" || device == "cpu" || device == "cuda" || device.rfind("cuda:", 0) == 0,
                    "--device '{}' is not one of auto, cpu, cuda, cuda:N", device);
  if (device != "auto") Device::parse(device);  // UsageError for "cuda:x"
}

// The ranges CLI11 checks on the command line, again for a configuration from a checkpoint.
void check_ranges(const TrainConfig& c) {
  EMBER_USAGE_CHECK(c.epochs >= 1 && c.epochs <= 100000, "--epochs {} is not in [1, 100000]", c.epochs);
  EMBER_USAGE_CHECK(c.batch_size >= 1 && c.batch_size <= (int64_t(1) << 20), "--batch-size {} is not in [1, 1048576]",
                    c.batch_size);
  EMBER_USAGE_CHECK(c.log_every >= 1 && c.log_every <= 1000000, "--log-every {} is not in [1, 1000000]", c.log_every);
  EMBER_USAGE_CHECK(c.warmup_epochs >= 0 && c.warmup_epochs <= 1e6, "--warmup-epochs {} is not in [0, 1e6]",
                    c.warmup_epochs);
  EMBER_USAGE_CHECK(c.label_smoothing >= 0 && c.label_smoothing < 1, "--label-smoothing {} is not in [0, 1)",
                    c.label_smoothing);
  EMBER_USAGE_CHECK(c.target_accuracy >= 0 && c.target_accuracy <= 1, "--target-accuracy {} is not in [0, 1]",
                    c.target_accuracy);
  EMBER_USAGE_CHECK(c.threads >= 0 && c.threads <= 4096, "--threads {} is not in [0, 4096]", c.threads);
  EMBER_USAGE_CHECK(c.tune >= 0 && c.tune <= 10000, "--tune {} is not in [1, 10000]", c.tune);
  EMBER_USAGE_CHECK(!c.zero1 || c.data_parallel, "--zero1 needs --data-parallel (it shards the optimiser state over "
                                                 "the ranks of a data-parallel job)");
  EMBER_USAGE_CHECK(!c.data_parallel || c.tune == 0, "--data-parallel does not combine with --tune (yet)");
  EMBER_USAGE_CHECK(!c.data_parallel || c.workloads.empty(),
                    "--data-parallel does not combine with --workload (yet): it trains one comparison's runs");
  EMBER_USAGE_CHECK(!c.data_parallel || !c.cuda_graph,
                    "--data-parallel does not combine with --cuda-graph (the all-reduce runs outside the graph)");
}

}  // namespace

void validate(TrainConfig& c) {
  check_ranges(c);
  ParsedOptions p;
  p.compute_dtype = parse_precision(c.precision);
  p.sweep_lrs = c.sweep.empty() ? std::vector<double>{} : parse_sweep(c.sweep);
  validate_tuning(c);
  p.runs = c.phase == kPhaseTrials ? expand_runs(trial_specs(c), {}, 1, c.seed)
                                   : expand_runs(c.optimizer_specs(), p.sweep_lrs, c.repeats, c.seed);
  p.shift = parse_shift(c.shift, c.epochs);
  if (!c.classes.empty()) p.classes = data::parse_class_list(c.classes);
  EMBER_USAGE_CHECK(p.shift.kind != ShiftKind::Classes || c.classes.empty(),
                    "--shift E:classes chooses the classes itself: leave out --classes");
  EMBER_USAGE_CHECK(!c.reset_fc || !c.weights.empty(), "--reset-fc needs --weights");
  EMBER_USAGE_CHECK(!(c.warmup_epochs > 0) || c.warmup_epochs < c.epochs,
                    "--warmup-epochs {} must be shorter than --epochs {}", c.warmup_epochs, c.epochs);
  check_device_name(c.device);
  p.stem = parse_arch(c.arch);
  p.augment = data::parse_augment(c.augment);
  p.normalization = data::parse_normalization(c.normalize);
  p.lr_schedule = parse_schedule(c.lr_schedule);
  c.parsed = std::move(p);
}

namespace {

// The saved fields, in one list for writing and reading (json_fields.h).
template <class Io, class Config>
void config_fields(Io& io, Config& c) {
  io("data", c.data);
  io("arch", c.arch);
  io("optimizers", c.optimizers);
  io("epochs", c.epochs);
  io("batch_size", c.batch_size);
  io("device", c.device);
  io("seed", c.seed);
  io("augment", c.augment);
  io("normalize", c.normalize);
  io("lr_schedule", c.lr_schedule);
  io("warmup_epochs", c.warmup_epochs);
  io("label_smoothing", c.label_smoothing);
  io("freeze_backbone", c.freeze_backbone);
  io("cuda_graph", c.cuda_graph);
  io("precision", c.precision);
  io("channels_last", c.channels_last);
  io("deterministic", c.deterministic);
  io("log_every", c.log_every);
  io("limit_train", c.limit_train);
  io("limit_test", c.limit_test);
  io("out", c.out);
  io("threads", c.threads);
  io("save_models", c.save_models);
  io("repeats", c.repeats);
  io("sweep", c.sweep);
  io("target_accuracy", c.target_accuracy);
  io("shift", c.shift);
  io("weights", c.weights);
  io("reset_fc", c.reset_fc);
  io("classes", c.classes);
  io("tune", c.tune);
  io("spaces", c.spaces);
  io("phase", c.phase);
}

}  // namespace

nlohmann::json to_json(const TrainConfig& c) {
  nlohmann::json j = nlohmann::json::object();
  JsonWriter writer(j);
  config_fields(writer, c);
  j["optimizers"] = c.optimizer_specs();  // the seed's four spelled out when none were given
  return j;
}

TrainConfig config_from_json(const nlohmann::json& j) {
  TrainConfig c;
  const JsonReader reader(j, "config");
  config_fields(reader, c);
  return c;
}

}  // namespace ember::train
