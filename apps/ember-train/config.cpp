#include "apps/ember-train/config.h"

#include <fmt/format.h>

#include "apps/ember-train/json_integer.h"
#include "apps/ember-train/runs.h"
#include "core/error.h"
#include "data/dataset.h"
#include "optim/spec.h"

namespace ember::train {

std::vector<std::string> TrainConfig::seed_optimizers() {
  return {"sgd:lr=0.01,momentum=0.9", "adam:lr=0.001", "rmsprop:lr=0.001", "adagrad:lr=0.01"};
}

void add_flags(CLI::App& app, TrainConfig& c) {
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
  app.add_option("--threads", c.threads, "CPU threads (default: EMBER_NUM_THREADS or all cores)")
      ->check(CLI::Range(0, 4096));
}

void validate(const TrainConfig& c) {
  EMBER_USAGE_CHECK(c.precision == "fp32" || c.precision == "bf16", "--precision '{}' is not fp32 or bf16", c.precision);
  expand_runs(c);                  // optimiser specs, --sweep, --repeats
  const Shift shift = parse_shift(c.shift, c.epochs);
  if (!c.classes.empty()) data::parse_class_list(c.classes);
  EMBER_USAGE_CHECK(shift.kind != ShiftKind::Classes || c.classes.empty(),
                    "--shift E:classes chooses the classes itself: leave out --classes");
  EMBER_USAGE_CHECK(!c.reset_fc || !c.weights.empty(), "--reset-fc needs --weights");
  EMBER_USAGE_CHECK(!(c.warmup_epochs > 0) || c.warmup_epochs < c.epochs,
                    "--warmup-epochs {} must be shorter than --epochs {}", c.warmup_epochs, c.epochs);
  EMBER_USAGE_CHECK(c.device == "auto" || c.device == "cpu" || c.device == "cuda" || c.device.rfind("cuda:", 0) == 0,
                    "--device '{}' is not one of auto, cpu, cuda, cuda:N", c.device);
}

nlohmann::json to_json(const TrainConfig& c) {
  return {{"data", c.data},
          {"arch", c.arch},
          {"optimizers", c.optimizer_specs()},
          {"epochs", c.epochs},
          {"batch_size", c.batch_size},
          {"device", c.device},
          {"seed", c.seed},
          {"augment", c.augment},
          {"normalize", c.normalize},
          {"lr_schedule", c.lr_schedule},
          {"warmup_epochs", c.warmup_epochs},
          {"label_smoothing", c.label_smoothing},
          {"freeze_backbone", c.freeze_backbone},
          {"cuda_graph", c.cuda_graph},
          {"precision", c.precision},
          {"channels_last", c.channels_last},
          {"deterministic", c.deterministic},
          {"log_every", c.log_every},
          {"limit_train", c.limit_train},
          {"limit_test", c.limit_test},
          {"out", c.out},
          {"threads", c.threads},
          {"save_models", c.save_models},
          {"repeats", c.repeats},
          {"sweep", c.sweep},
          {"target_accuracy", c.target_accuracy},
          {"shift", c.shift},
          {"weights", c.weights},
          {"reset_fc", c.reset_fc},
          {"classes", c.classes}};
}

TrainConfig config_from_json(const nlohmann::json& j) {
  TrainConfig c;
  try {
    c.data = j.at("data");
    c.arch = j.at("arch");
    c.optimizers = j.at("optimizers").get<std::vector<std::string>>();
    c.epochs = json_integer<int>(j.at("epochs"));
    c.batch_size = json_integer<int64_t>(j.at("batch_size"));
    c.device = j.at("device");
    c.seed = json_integer<uint64_t>(j.at("seed"));
    c.augment = j.at("augment");
    c.normalize = j.at("normalize");
    c.lr_schedule = j.at("lr_schedule");
    c.warmup_epochs = j.at("warmup_epochs");
    c.label_smoothing = j.at("label_smoothing");
    c.freeze_backbone = j.at("freeze_backbone");
    c.cuda_graph = j.value("cuda_graph", false);
    c.precision = j.value("precision", "fp32");
    c.channels_last = j.value("channels_last", false);
    c.deterministic = j.value("deterministic", false);
    c.log_every = json_integer<int>(j.at("log_every"));
    c.limit_train = json_integer<int64_t>(j.at("limit_train"));
    c.limit_test = json_integer<int64_t>(j.at("limit_test"));
    c.out = j.at("out");
    c.threads = j.contains("threads") ? json_integer<int>(j.at("threads")) : 0;
    c.save_models = j.value("save_models", false);
    c.repeats = j.contains("repeats") ? json_integer<int>(j.at("repeats")) : 1;
    c.sweep = j.value("sweep", "");
    c.target_accuracy = j.value("target_accuracy", 0.0);
    c.shift = j.value("shift", "");
    c.weights = j.value("weights", "");
    c.reset_fc = j.value("reset_fc", false);
    c.classes = j.value("classes", "");
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("saved configuration is incomplete or malformed: {}", e.what());
  }
  return c;
}

}  // namespace ember::train
