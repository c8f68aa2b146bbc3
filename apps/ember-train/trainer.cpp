#include "apps/ember-train/trainer.h"

#include <cmath>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "apps/ember-train/checkpoint.h"
#include "apps/ember-train/milestones.h"
#include "apps/ember-train/run_model.h"
#include "apps/ember-train/schedule_free.h"
#include "core/backend.h"
#include "core/error.h"
#include "nn/checkpoint.h"
#include "optim/state8bit.h"

namespace ember::train {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

const RunSpec& run_of(const TrainConfig& c, int index) {
  EMBER_CHECK(index >= 0 && index < static_cast<int>(c.parsed.runs.size()), "run {} of {} does not exist", index,
              c.parsed.runs.size());
  return c.parsed.runs[index];
}

}  // namespace

RunTrainer::RunTrainer(const TrainEnvironment& env, RunRecord& record, Progress& progress,
                       const nn::SafetensorsContents* resume)
    : env_(env),
      config_(env.config),
      run_(run_of(env.config, progress.run)),
      record_(record),
      progress_(progress),
      label_(fmt::format("[{}/{}] {}{}", progress.run + 1, env.config.parsed.runs.size(), run_.optimizer,
                         env.config.repeats > 1 ? fmt::format(" (repeat {})", run_.repeat) : "")),
      wall_start_(Clock::now()),
      wall_before_(progress.wall_seconds),
      energy_(make_energy_meter(env.device.is_cuda() ? env.device.index : -1)),
      allocator_(allocator_for(env.device)),
      loaders_(env.data, env.config, run_.seed, env.device),
      windows_(env.device, env.config.log_every, progress, record) {
  allocator_.reset_peak();
  build(resume);
  describe_result();
  plan_steps();
}

RunTrainer::~RunTrainer() = default;

void RunTrainer::build(const nn::SafetensorsContents* resume) {
  model_ = build_model(config_, run_.seed, env_.device);
  flat_ = std::make_unique<optim::FlatParameters>(trainable(*model_), env_.device);
  const bool cuda_graph = config_.cuda_graph && env_.device.is_cuda();  // run.cpp warns about the CPU
  optim::OptimizerSpec spec = run_.parsed;
  spec.capturable = spec.capturable || cuda_graph;  // the graph reads lr and step on the device
  if (env_.data_parallel) {
    parallel_ = std::make_unique<DataParallelRun>(*env_.data_parallel, config_.zero1, *flat_, spec);
    optimizer_ = &parallel_->optimizer();
  } else {
    own_optimizer_ = optim::make_optimizer(spec, *flat_);
    optimizer_ = own_optimizer_.get();
  }
  // The schedule's base is the spec's lr, taken before a checkpoint's state is restored: that
  // holds the last scheduled lr instead (a resumed run would schedule from it).
  for (int g = 0; g < optimizer_->num_groups(); ++g) base_lrs_.push_back(optimizer_->lr(g));
  if (resume) restore_training_state(*resume, *model_, *optimizer_);
  // Schedule-Free: a checkpoint holds x; training goes on at its y (schedule_free.h), which
  // every rank read from it whole (no gather under --zero1).
  optimizer_->train();
  if (parallel_) return;
  TrainStepOptions options;
  options.cuda_graph = cuda_graph;
  options.label_smoothing = config_.label_smoothing;
  options.batch_size = config_.batch_size;
  step_ = std::make_unique<TrainStep>(*model_, *optimizer_, options);
}

void RunTrainer::describe_result() {
  RunResult& r = record_.result;
  r.optimizer = run_.optimizer;
  r.base = run_.base;
  r.lr = run_.lr;
  r.repeat = run_.repeat;
  r.seed = run_.seed;
  r.canonical = optimizer_->spec();
  r.parameters = model_->num_parameters();
  r.trainable_parameters = model_->num_parameters(true);
  r.state_bytes = optimizer_->state_bytes();
  r.energy_source = energy_->source();
}

void RunTrainer::plan_steps() {
  const Progress& p = progress_;
  loaders_.use_epoch(p.epoch);
  for (int e = 0; e < config_.epochs; ++e) {
    const int64_t n = env_.data.train(e).size();
    steps_in_epoch_.push_back((n + config_.batch_size - 1) / config_.batch_size);
    total_steps_ += steps_in_epoch_.back();
    if (e < p.epoch) batches_before_epoch_ += steps_in_epoch_.back();
  }
  EMBER_CHECK(p.epoch >= 0 && p.epoch < config_.epochs && p.batch >= 0 && p.batch <= steps_in_epoch_[p.epoch],
              "cannot continue at batch {} of epoch {}: the run has {} epochs of {} batches", p.batch, p.epoch + 1,
              config_.epochs, steps_in_epoch_.front());
  schedule_ = make_schedule(config_, steps_in_epoch_.front());
}

Outcome RunTrainer::train() {
  if (progress_.epoch == 0 && progress_.batch == 0) {
    const std::string state8bit = optim::describe_state8bit(*optimizer_);  // empty for 32-bit state
    env_.progress.println(fmt::format("== {}{}", label_, state8bit.empty() ? "" : " (" + state8bit + ")"));
  }
  while (progress_.epoch < config_.epochs && !diverged()) {
    if (!train_epoch()) return Outcome::Interrupted;
    end_epoch();
    if (diverged()) break;
    evaluate();
    next_epoch();
  }
  finish();
  return Outcome::Finished;
}

bool RunTrainer::train_epoch() {
  Progress& p = progress_;
  loaders_.use_epoch(p.epoch);
  model_->train();
  data::Loader& loader = loaders_.train();
  loader.start_epoch(p.epoch);
  data::Batch batch;
  for (int64_t skip = 0; skip < p.batch; ++skip) loader.next(batch);  // resuming mid-epoch
  epoch_start_ = Clock::now();
  epoch_seconds_before_ = p.epoch_seconds;
  while (!diverged() && loader.next(batch)) {
    train_batch(batch);
    show_progress();
    if (stop_requested()) {
      p.epoch_seconds = epoch_seconds_before_ + seconds_since(epoch_start_);
      checkpoint(/*inside_epoch=*/true);
      return false;
    }
  }
  return true;
}

void RunTrainer::train_batch(const data::Batch& batch) {
  Progress& p = progress_;
  if (schedule_) schedule_->apply(*optimizer_, base_lrs_, p.step, total_steps_);
  if (parallel_) {
    const DataParallelRun::Figures global = parallel_->step(*model_, batch, config_.label_smoothing);
    windows_.add_counts(global.loss, global.correct, batch.size());
  } else {
    const TrainStep::Result step = step_->run(batch.images, batch.labels);
    note_cuda_graph();
    windows_.add(step.loss, step.logits, batch.labels);
  }
  ++p.batch;
  ++p.step;
  ++p.epoch_batches;
  p.images_seen += batch.size();
  p.epoch_images += batch.size();
  if (windows_.is_full()) windows_.close(/*history=*/true, batches_before_epoch_ + p.batch);
}

std::function<void()> RunTrainer::parameters_moved() {
  if (!parallel_) return {};
  return [this] { parallel_->gather_parameters(); };
}

bool RunTrainer::stop_requested() {
  const bool mine = env_.stop_requested();
  return parallel_ ? parallel_->any(mine) : mine;
}

void RunTrainer::note_cuda_graph() {
  const std::string& failure = step_->graph_failure();
  if (!failure.empty() && !reported_graph_failure_) {
    reported_graph_failure_ = true;
    record_.result.cuda_graph = "eager: " + failure;
    env_.progress.warn(fmt::format("{}; training eagerly", failure));
  }
  if (step_->replayed_last()) record_.result.cuda_graph = "replayed";
}

void RunTrainer::show_progress() {
  const Progress& p = progress_;
  const double elapsed = p.train_seconds + p.epoch_seconds + seconds_since(epoch_start_);  // of this run
  const double rate = elapsed > 0 ? static_cast<double>(p.step) / elapsed : 0;
  const std::string metrics =
      std::isnan(windows_.last_loss())
          ? std::string("loss -")
          : fmt::format("loss {:.4f} acc {:.4f}", windows_.last_loss(), windows_.last_accuracy());
  env_.progress.update(fmt::format("{} epoch {}/{} batch {}/{} {} {:.0f} img/s ETA {}", label_, p.epoch + 1,
                                   config_.epochs, p.batch, steps_in_epoch_[p.epoch], metrics,
                                   rate * static_cast<double>(config_.batch_size),
                                   apps::format_duration(rate > 0 ? (total_steps_ - p.step) / rate : -1)));
}

void RunTrainer::end_epoch() {
  Progress& p = progress_;
  if (p.window_batches > 0) windows_.close(/*history=*/false, batches_before_epoch_ + p.batch);
  windows_.drain();
  backend_for(env_.device).synchronize();
  p.epoch_seconds = epoch_seconds_before_ + seconds_since(epoch_start_);
  p.train_seconds += p.epoch_seconds;
}

void RunTrainer::evaluate() {
  Progress& p = progress_;
  // ASGD is evaluated at its averaged parameters ax, swapped in for the epoch's test
  // evaluations and back before training or saving continues; a no-op for the others.
  std::optional<optim::AveragedParameters> averaged(std::in_place, *optimizer_, parameters_moved());
  // Schedule-Free is evaluated at x, with batch-norm statistics recomputed there (by every
  // rank on its rows, as in training; Note [data-parallel ember-train]).
  std::optional<AtAverage> at_x(std::in_place, *optimizer_, parameters_moved());
  if (at_x->active()) {
    RowPick rows;
    if (parallel_) rows = [this](const Tensor& images) { return parallel_->my_rows(images); };
    recompute_batch_norm(*model_, loaders_.train(), p.epoch, kBatchNormRecomputeBatches, rows);
  }
  if (parallel_) parallel_->broadcast_buffers(*model_);  // rank 0's batch-norm statistics
  const Evaluation test = train::evaluate(*model_, loaders_.test());
  EpochRow row = epoch_row(test.loss, test.accuracy);
  row.test_accuracy_low = loaders_.test_low() ? train::evaluate(*model_, *loaders_.test_low()).accuracy : kNaN;
  row.test_accuracy_high = loaders_.test_high() ? train::evaluate(*model_, *loaders_.test_high()).accuracy : kNaN;
  if (data::Loader* held_out = loaders_.validation()) {
    const Evaluation validation = train::evaluate(*model_, *held_out);
    row.validation_loss = validation.loss;
    row.validation_accuracy = validation.accuracy;
  }
  averaged.reset();
  record_.epochs.push_back(row);
  if (!(p.best_test_accuracy >= test.accuracy)) p.best_test_accuracy = test.accuracy;
  RunResult& result = record_.result;
  result.epochs_done = p.epoch + 1;
  result.final_test_accuracy = test.accuracy;
  result.best_test_accuracy = p.best_test_accuracy;
  record_milestones(config_, record_, probe_shifted_accuracy(row.epoch));
  at_x.reset();
  env_.progress.println(fmt::format("{} epoch {}/{}: train loss {:.4f} acc {:.4f} | test loss {:.4f} acc {:.4f} | "
                                    "{:.1f} s, {:.0f} img/s",
                                    label_, row.epoch, config_.epochs, row.train_loss, row.train_accuracy,
                                    row.test_loss, row.test_accuracy, row.seconds, row.images_per_second));
}

EpochRow RunTrainer::epoch_row(double test_loss, double test_accuracy) {
  const Progress& p = progress_;
  EpochRow row{run_.optimizer,
               run_.repeat,
               p.epoch + 1,
               p.epoch_loss_sum / std::max<int64_t>(p.epoch_batches, 1),
               static_cast<double>(p.epoch_correct) / std::max<int64_t>(p.epoch_images, 1),
               test_loss,
               test_accuracy,
               p.epoch_seconds,
               p.epoch_seconds > 0 ? static_cast<double>(p.epoch_images) / p.epoch_seconds : 0.0};
  row.images_seen = p.images_seen;
  row.train_seconds = p.train_seconds;
  row.joules = joules();
  return row;
}

// After the last epoch before the shift: the accuracy on the shifted data with the model as
// it is, i.e. the immediate drop (labels: the permuted test set; classes: the half not yet
// trained).
double RunTrainer::probe_shifted_accuracy(int epoch) {
  const DataPlan& plan = env_.data;
  if (plan.shift.kind == ShiftKind::None || epoch != plan.shift.epoch - 1) return kNaN;
  const auto probe = loaders_.test_loader(plan.shift.kind == ShiftKind::Labels ? plan.test_after : plan.test_high);
  return train::evaluate(*model_, *probe).accuracy;
}

void RunTrainer::next_epoch() {
  Progress& p = progress_;
  batches_before_epoch_ += steps_in_epoch_[p.epoch];
  ++p.epoch;
  p.batch = 0;
  p.epoch_loss_sum = p.epoch_accuracy_sum = 0;
  p.epoch_batches = p.epoch_images = p.epoch_correct = 0;
  p.epoch_seconds = 0;
  if (p.epoch < config_.epochs) checkpoint(/*inside_epoch=*/false);
}

void RunTrainer::checkpoint(bool inside_epoch) {
  if (inside_epoch) windows_.save_open();  // the open window's sums, exactly, for a bit-identical resume
  else windows_.drain();
  Progress& p = progress_;
  p.wall_seconds = wall_before_ + seconds_since(wall_start_);
  const double j = joules();
  p.joules = std::isfinite(j) ? j : 0.0;
  const AtAverage at_x(*optimizer_, parameters_moved());  // Schedule-Free: checkpoints hold x
  env_.save_checkpoint(*model_, parallel_ ? parallel_->state_dict() : optimizer_->state_dict());
}

void RunTrainer::finish() {
  const Progress& p = progress_;
  RunResult& result = record_.result;
  if (config_.save_models) {
    // Schedule-Free: the model at x (on every rank: the gather under --zero1 is collective).
    const AtAverage at_x(*optimizer_, parameters_moved());
    const std::string path =
        (std::filesystem::path(env_.out_dir) / fmt::format("model-{}.safetensors", p.run + 1)).string();
    if (env_.writes_files)
      nn::save_checkpoint(path, *model_, {{"optimizer", run_.optimizer}, {"epochs", std::to_string(result.epochs_done)}});
  }
  result.finished = true;
  result.diverged = diverged();
  result.diverged_at = windows_.diverged_at();
  result.train_seconds = p.train_seconds;
  result.wall_seconds = wall_before_ + seconds_since(wall_start_);
  result.images_seen = p.images_seen;
  result.images_per_second = p.train_seconds > 0 ? static_cast<double>(p.images_seen) / p.train_seconds : 0.0;
  result.peak_device_bytes = allocator_.stats().peak_bytes;
  result.energy_joules = joules();
  if (result.diverged)
    env_.progress.println(fmt::format("{} DIVERGED at {} (non-finite loss): recorded, going on with the next run",
                                      label_, windows_.diverged_at()));
}

double RunTrainer::joules() {
  energy_->sample();
  return energy_->available() ? progress_.joules + energy_->joules() : kNaN;
}

}  // namespace ember::train
