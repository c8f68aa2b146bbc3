#include "apps/ember-train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "apps/common/train_step.h"
#include "apps/ember-train/checkpoint.h"
#include "apps/ember-train/energy.h"
#include "core/allocator.h"
#include "core/autograd/grad_mode.h"
#include "core/backend.h"
#include "core/ops.h"
#include "core/readback.h"
#include "data/augment.h"
#include "data/loader.h"
#include "nn/checkpoint.h"
#include "nn/resnet.h"
#include "optim/optimizer.h"

namespace ember::train {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::unique_ptr<nn::ResNet18> build_model(const TrainConfig& c, uint64_t seed, Device device) {
  // The same seed gives the same initial weights for every optimiser (and on every device).
  Generator generator(seed);
  auto model = std::make_unique<nn::ResNet18>(10, c.arch == "resnet18-cifar" ? nn::Stem::Cifar : nn::Stem::ImageNet,
                                              &generator);
  if (!c.weights.empty()) load_initial_weights(*model, c.weights, c.reset_fc);
  if (c.precision == "bf16") model->set_compute_dtype(DType::BFloat16);
  model->set_channels_last(c.channels_last);
  if (c.freeze_backbone)
    for (auto& [name, p] : model->named_parameters())
      if (name.rfind("fc.", 0) != 0) p.set_requires_grad(false);
  model->to(device);
  return model;
}

// Only trainable parameters go into the flat buffers, so that optimiser state exists for
// them alone (--freeze-backbone: for fc only).
optim::NamedParameters trainable(const nn::Module& model) {
  optim::NamedParameters out;
  for (auto& [name, p] : model.named_parameters())
    if (p.requires_grad()) out.emplace_back(name, p);
  return out;
}

// The LR schedule of the run, or nullptr for a constant lr without warm-up.
std::unique_ptr<optim::LrSchedule> make_schedule(const TrainConfig& c, int64_t steps_per_epoch) {
  const int64_t warmup = static_cast<int64_t>(std::llround(c.warmup_epochs * static_cast<double>(steps_per_epoch)));
  auto s = std::make_unique<optim::LrSchedule>();
  if (c.lr_schedule == "cosine") {
    s->kind = optim::ScheduleKind::Cosine;
    s->warmup = warmup;
  } else if (c.lr_schedule == "onecycle") {
    s->kind = optim::ScheduleKind::OneCycle;
    if (c.warmup_epochs > 0) s->pct_start = c.warmup_epochs / c.epochs;
  } else if (warmup > 0) {
    s->kind = optim::ScheduleKind::Constant;
    s->warmup = warmup;
  } else {
    return nullptr;
  }
  return s;
}

struct Evaluation {
  double loss = kNaN, accuracy = kNaN;
};

Evaluation evaluate(nn::Module& model, data::Loader& loader) {
  if (loader.size() == 0) return {};
  NoGradGuard no_grad;
  model.eval();
  Tensor loss_sum = zeros({}, TensorOptions(DType::Float64).device(loader.options().device));
  Tensor correct = zeros({}, TensorOptions(DType::Int64).device(loader.options().device));
  loader.start_epoch(0);
  data::Batch batch;
  while (loader.next(batch)) {
    Tensor logits = model(batch.images);
    loss_sum.add_(cross_entropy(logits, batch.labels).to(DType::Float64) * static_cast<double>(batch.size()));
    correct.add_(count_correct(logits, batch.labels));
  }
  model.train();
  const double n = static_cast<double>(loader.size());
  return {loss_sum.item() / n, correct.item() / n};
}

// The running sums of one log window, kept on the device so that no step waits for the host.
struct Window {
  Tensor loss, accuracy, correct;  // float64, float64, int64 scalars
  void reset() {
    NoGradGuard no_grad;
    loss.zero_();
    accuracy.zero_();
    correct.zero_();
  }
};

// A posted window on its way back to the host, and what to do with it there.
struct PendingWindow {
  bool history = false;  // a full window: becomes a history row
  int batches = 0;
  int epoch = 0;         // 1-based
  int64_t global_batch = 0, epoch_batch = 0, images_seen = 0;
};

}  // namespace

std::string checkpoint_path(const std::string& out_dir) {
  return (std::filesystem::path(out_dir) / "checkpoint.safetensors").string();
}

void load_initial_weights(nn::Module& model, const std::string& path, bool reset_fc) {
  EMBER_CHECK(std::filesystem::exists(path), "--weights {}: no such file", path);
  const nn::SafetensorsContents file = nn::load_safetensors(path);
  NoGradGuard no_grad;
  for (auto& [name, t] : model.state_dict()) {
    if (reset_fc && name.rfind("fc.", 0) == 0) continue;  // the head keeps its fresh init
    const Tensor* saved = file.find(name);
    EMBER_CHECK(saved != nullptr, "--weights {}: no tensor named {}{}", path, name,
                name.rfind("fc.", 0) == 0 ? " (use --reset-fc to start the head afresh)" : "");
    EMBER_CHECK(saved->sizes() == t.sizes(), "--weights {}: {} has shape {}, the model's is {}{}", path, name,
                shape_str(saved->sizes()), shape_str(t.sizes()),
                name.rfind("fc.", 0) == 0 ? " (use --reset-fc for a head of another size)" : "");
    t.copy_(*saved);  // the model's own tensor: written in place
  }
}

void record_milestones(const TrainConfig& c, const DataPlan& plan, const RunState& state, RunResult& r,
                       const EpochRow& row, double shifted_accuracy) {
  if (c.target_accuracy > 0 && r.images_to_target < 0 && row.test_accuracy >= c.target_accuracy) {
    r.images_to_target = row.images_seen;
    r.seconds_to_target = row.train_seconds;
    r.joules_to_target = row.joules;
  }
  if (plan.shift.kind == ShiftKind::None) return;
  const int e = plan.shift.epoch;  // the first shifted epoch (1-based)
  // Labels: the same test set relabelled, so "accuracy" is the current task's. Classes: the
  // half being trained (0-4 before the shift, 5-9 after).
  const double acc = plan.shift.kind == ShiftKind::Classes
                         ? (row.epoch < e ? row.test_accuracy_low : row.test_accuracy_high)
                         : row.test_accuracy;
  if (row.epoch == e - 1) {
    r.accuracy_before_shift = acc;
    r.accuracy_after_shift = shifted_accuracy;
  }
  if (row.epoch >= e && r.images_to_recover < 0 && std::isfinite(r.accuracy_before_shift) &&
      acc >= r.accuracy_before_shift) {
    int64_t images_at_shift = 0;  // images seen when the shift began: end of epoch e - 1
    for (const EpochRow& prev : state.epochs)
      if (prev.optimizer == row.optimizer && prev.repeat == row.repeat && prev.epoch == e - 1)
        images_at_shift = prev.images_seen;
    r.images_to_recover = row.images_seen - images_at_shift;
  }
}

Outcome train_run(TrainContext& ctx, const nn::SafetensorsContents* resume) {
  const TrainConfig& c = ctx.config;
  RunState& state = ctx.state;
  Progress& p = state.progress;
  const RunSpec& run = ctx.runs.at(p.run);
  const std::string& spec = run.optimizer;
  const DataPlan& plan = ctx.data;
  const auto wall_start = Clock::now();
  const double wall_before = p.wall_seconds;
  const auto energy = make_energy_meter(ctx.device.is_cuda() ? ctx.device.index : -1);
  auto joules = [&] {
    energy->sample();
    return energy->available() ? p.joules + energy->joules() : kNaN;
  };

  Allocator& allocator = allocator_for(ctx.device);
  allocator.reset_peak();
  auto model = build_model(c, run.seed, ctx.device);
  optim::FlatParameters flat(trainable(*model), ctx.device);
  const bool cuda_graph = c.cuda_graph && ctx.device.is_cuda();  // run.cpp warns about the CPU
  optim::OptimizerSpec parsed_spec = optim::parse_optimizer_spec(spec);
  parsed_spec.capturable = parsed_spec.capturable || cuda_graph;  // the graph reads lr and step on the device
  auto optimizer = optim::make_optimizer(parsed_spec, flat);
  if (resume) restore_training_state(*resume, *model, *optimizer);
  TrainStepOptions step_options;
  step_options.cuda_graph = cuda_graph;
  step_options.label_smoothing = c.label_smoothing;
  step_options.batch_size = c.batch_size;
  TrainStep train_step(*model, *optimizer, step_options);
  bool reported_graph_failure = false;

  if (static_cast<int>(state.results.size()) <= p.run) state.results.emplace_back();
  RunResult& result = state.results[p.run];
  result.optimizer = spec;
  result.base = run.base;
  result.lr = run.lr;
  result.repeat = run.repeat;
  result.seed = run.seed;
  result.canonical = optimizer->spec();
  result.parameters = model->num_parameters();
  result.trainable_parameters = model->num_parameters(true);
  result.state_bytes = optimizer->state_bytes();
  result.energy_source = energy->source();

  data::LoaderOptions train_options;
  train_options.batch_size = c.batch_size;
  train_options.shuffle = true;
  train_options.augment = data::parse_augment(c.augment);
  train_options.normalize = data::parse_normalization(c.normalize);
  train_options.seed = run.seed;
  train_options.device = ctx.device;
  data::LoaderOptions test_options = train_options;
  test_options.shuffle = false;
  test_options.augment = data::Augment::None;
  // Loaders of the current data phase (rebuilt when a shift changes the data).
  std::unique_ptr<data::Loader> train_loader, test_loader, test_low, test_high;
  int loader_phase = -1;
  auto use_phase = [&](int epoch) {
    if (plan.phase(epoch) == loader_phase) return;
    loader_phase = plan.phase(epoch);
    train_loader = std::make_unique<data::Loader>(plan.train(epoch), train_options);
    test_loader = std::make_unique<data::Loader>(plan.test(epoch), test_options);
    if (plan.shift.kind == ShiftKind::Classes && !test_low) {
      test_low = std::make_unique<data::Loader>(plan.test_low, test_options);
      test_high = std::make_unique<data::Loader>(plan.test_high, test_options);
    }
  };
  use_phase(p.epoch);

  // Steps per epoch of each phase, for the schedule's total and the progress line.
  std::vector<int64_t> steps_in_epoch(c.epochs);
  int64_t total_steps = 0;
  for (int e = 0; e < c.epochs; ++e) {
    const int64_t n = plan.train(e).size();
    steps_in_epoch[e] = (n + c.batch_size - 1) / c.batch_size;
    total_steps += steps_in_epoch[e];
  }
  const auto schedule = make_schedule(c, steps_in_epoch[0]);
  std::vector<double> base_lrs;
  for (int g = 0; g < optimizer->num_groups(); ++g) base_lrs.push_back(optimizer->lr(g));

  const TensorOptions f64 = TensorOptions(DType::Float64).device(ctx.device);
  Window window{full({}, p.window_loss_sum, f64), full({}, p.window_accuracy_sum, f64),
                zeros({}, TensorOptions(DType::Int64).device(ctx.device))};
  AsyncReadback readback;
  PendingWindow pending;
  std::string diverged_at;
  double last_loss = kNaN, last_accuracy = kNaN;
  int64_t global_batches_before = 0;  // batches of the epochs before the current one
  for (int e = 0; e < p.epoch; ++e) global_batches_before += steps_in_epoch[e];

  // Folds a window that reached the host into the epoch sums (and the history).
  auto consume = [&](const std::vector<double>& v, const PendingWindow& w) {
    p.epoch_loss_sum += v[0];
    p.epoch_accuracy_sum += v[1];
    p.epoch_correct += static_cast<int64_t>(v[2]);
    if (w.history) {
      last_loss = v[0] / w.batches;
      last_accuracy = v[1] / w.batches;
      state.history.push_back({spec, run.repeat, w.epoch, w.global_batch, w.images_seen, last_loss, last_accuracy});
    }
    if (!std::isfinite(v[0]) && diverged_at.empty())
      diverged_at = fmt::format("epoch {}, batch {}", w.epoch, w.epoch_batch);
  };
  auto drain = [&] {
    if (readback.has_value()) consume(readback.take(), pending);
  };
  // Sends the current window to the host (asynchronously) and starts a new one.
  auto post_window = [&](bool history) {
    drain();
    readback.post({window.loss, window.accuracy, window.correct});
    pending = {history, p.window_batches, p.epoch + 1, global_batches_before + p.batch, p.batch,
               p.images_seen};
    window.reset();
    p.window_batches = 0;
    p.window_loss_sum = p.window_accuracy_sum = 0;
  };
  auto save = [&](bool inside_epoch) {
    drain();
    if (inside_epoch) {  // the open window's sums, exactly, for a bit-identical resume
      p.window_loss_sum = window.loss.item();
      p.window_accuracy_sum = window.accuracy.item();
      p.epoch_correct += static_cast<int64_t>(window.correct.item());
      window.correct.zero_();
    }
    p.wall_seconds = wall_before + seconds_since(wall_start);
    const double j = joules();
    p.joules = std::isfinite(j) ? j : 0.0;
    save_run_checkpoint(checkpoint_path(ctx.out_dir), state, model.get(), optimizer.get());
  };

  const std::string label = fmt::format("[{}/{}] {}{}", p.run + 1, ctx.runs.size(), spec,
                                        c.repeats > 1 ? fmt::format(" (repeat {})", run.repeat) : "");
  if (p.epoch == 0 && p.batch == 0) ctx.progress.println(fmt::format("== {}", label));
  while (p.epoch < c.epochs && diverged_at.empty()) {
    use_phase(p.epoch);
    model->train();
    train_loader->start_epoch(p.epoch);
    data::Batch batch;
    for (int64_t skip = 0; skip < p.batch; ++skip) train_loader->next(batch);  // resuming mid-epoch
    auto epoch_start = Clock::now();
    const double epoch_before = p.epoch_seconds;
    while (diverged_at.empty() && train_loader->next(batch)) {
      if (schedule) schedule->apply(*optimizer, base_lrs, p.step, total_steps);
      const TrainStep::Result step = train_step.run(batch.images, batch.labels);
      const Tensor& logits = step.logits;
      const Tensor& loss = step.loss;
      if (!train_step.graph_failure().empty() && !reported_graph_failure) {
        reported_graph_failure = true;
        result.cuda_graph = "eager: " + train_step.graph_failure();
        ctx.progress.warn(fmt::format("{}; training eagerly", train_step.graph_failure()));
      }
      if (train_step.replayed_last()) result.cuda_graph = "replayed";
      {
        NoGradGuard no_grad;
        Tensor correct = count_correct(logits, batch.labels);
        window.loss.add_(loss.detach().to(DType::Float64));
        window.accuracy.add_(correct.to(DType::Float64) * (1.0 / static_cast<double>(batch.size())));
        window.correct.add_(correct);
      }
      ++p.batch;
      ++p.step;
      ++p.window_batches;
      ++p.epoch_batches;
      p.images_seen += batch.size();
      p.epoch_images += batch.size();
      if (p.window_batches == c.log_every) post_window(true);
      const double elapsed = p.train_seconds + seconds_since(epoch_start) + (p.epoch_seconds - epoch_before);
      const double rate = elapsed > 0 ? static_cast<double>(p.step) / elapsed : 0;
      const std::string metrics = std::isnan(last_loss)
                                      ? std::string("loss -")
                                      : fmt::format("loss {:.4f} acc {:.4f}", last_loss, last_accuracy);
      ctx.progress.update(fmt::format("{} epoch {}/{} batch {}/{} {} {:.0f} img/s ETA {}", label, p.epoch + 1, c.epochs,
                                      p.batch, steps_in_epoch[p.epoch], metrics,
                                      rate * static_cast<double>(c.batch_size),
                                      apps::format_duration(rate > 0 ? (total_steps - p.step) / rate : -1)));
      if (ctx.stop_requested()) {
        p.epoch_seconds = epoch_before + seconds_since(epoch_start);
        save(/*inside_epoch=*/true);
        return Outcome::Interrupted;
      }
    }
    // Epoch end: the last (partial) window counts for the epoch, not for the history (as in
    // the seed, whose running sums restart each epoch).
    if (p.window_batches > 0) post_window(false);
    drain();
    backend_for(ctx.device).synchronize();
    p.epoch_seconds = epoch_before + seconds_since(epoch_start);
    p.train_seconds += p.epoch_seconds;
    if (!diverged_at.empty()) break;
    // ASGD is evaluated at its averaged parameters ax, swapped in for the epoch's test
    // evaluations and back before training or saving continues; a no-op for the others.
    std::optional<optim::AveragedParameters> averaged(std::in_place, *optimizer);
    const Evaluation test = evaluate(*model, *test_loader);
    EpochRow row{spec,
                 run.repeat,
                 p.epoch + 1,
                 p.epoch_loss_sum / std::max<int64_t>(p.epoch_batches, 1),
                 static_cast<double>(p.epoch_correct) / std::max<int64_t>(p.epoch_images, 1),
                 test.loss,
                 test.accuracy,
                 p.epoch_seconds,
                 p.epoch_seconds > 0 ? static_cast<double>(p.epoch_images) / p.epoch_seconds : 0.0};
    row.images_seen = p.images_seen;
    row.train_seconds = p.train_seconds;
    row.joules = joules();
    row.test_accuracy_low = test_low ? evaluate(*model, *test_low).accuracy : kNaN;
    row.test_accuracy_high = test_high ? evaluate(*model, *test_high).accuracy : kNaN;
    averaged.reset();
    state.epochs.push_back(row);
    if (!(p.best_test_accuracy >= test.accuracy)) p.best_test_accuracy = test.accuracy;
    result.epochs_done = p.epoch + 1;
    result.final_test_accuracy = test.accuracy;
    result.best_test_accuracy = p.best_test_accuracy;
    // Just before the shift: the accuracy on the shifted data with the model as it is, i.e.
    // the immediate drop (labels: the permuted test set; classes: the half not yet trained).
    double shifted_accuracy = kNaN;
    if (plan.shift.kind != ShiftKind::None && row.epoch == plan.shift.epoch - 1) {
      data::Loader probe(plan.shift.kind == ShiftKind::Labels ? plan.test_after : plan.test_high, test_options);
      shifted_accuracy = evaluate(*model, probe).accuracy;
    }
    record_milestones(c, plan, state, result, row, shifted_accuracy);
    ctx.progress.println(fmt::format("{} epoch {}/{}: train loss {:.4f} acc {:.4f} | test loss {:.4f} acc {:.4f} | "
                                     "{:.1f} s, {:.0f} img/s",
                                     label, row.epoch, c.epochs, row.train_loss, row.train_accuracy, row.test_loss,
                                     row.test_accuracy, row.seconds, row.images_per_second));
    // On to the next epoch; the checkpoint says where to go on from.
    global_batches_before += steps_in_epoch[p.epoch];
    ++p.epoch;
    p.batch = 0;
    p.epoch_loss_sum = p.epoch_accuracy_sum = 0;
    p.epoch_batches = p.epoch_images = p.epoch_correct = 0;
    p.epoch_seconds = 0;
    if (p.epoch < c.epochs) save(/*inside_epoch=*/false);
  }

  if (c.save_models) {
    const std::string path =
        (std::filesystem::path(ctx.out_dir) / fmt::format("model-{}.safetensors", p.run + 1)).string();
    nn::save_checkpoint(path, *model, {{"optimizer", spec}, {"epochs", std::to_string(result.epochs_done)}});
  }
  result.finished = true;
  result.diverged = !diverged_at.empty();
  result.diverged_at = diverged_at;
  result.train_seconds = p.train_seconds;
  result.wall_seconds = wall_before + seconds_since(wall_start);
  result.images_seen = p.images_seen;
  result.images_per_second = p.train_seconds > 0 ? static_cast<double>(p.images_seen) / p.train_seconds : 0.0;
  result.peak_device_bytes = allocator.stats().peak_bytes;
  result.energy_joules = joules();
  if (result.diverged)
    ctx.progress.println(fmt::format("{} DIVERGED at {} (non-finite loss): recorded, going on with the next run",
                                     label, diverged_at));
  return Outcome::Finished;
}

}  // namespace ember::train
