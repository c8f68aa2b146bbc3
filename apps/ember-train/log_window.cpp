#include "apps/ember-train/log_window.h"

#include <cmath>

#include <fmt/format.h>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"

namespace ember::train {

LogWindows::LogWindows(Device device, int log_every, Progress& progress, RunRecord& record)
    : log_every_(log_every), progress_(progress), record_(record) {
  const TensorOptions f64 = TensorOptions(DType::Float64).device(device);
  loss_ = full({}, progress.window_loss_sum, f64);
  accuracy_ = full({}, progress.window_accuracy_sum, f64);
  correct_ = zeros({}, TensorOptions(DType::Int64).device(device));  // save_open() moved it into the epoch's sum
}

void LogWindows::add(const Tensor& loss, const Tensor& logits, const Tensor& labels) {
  NoGradGuard no_grad;
  add_counts(loss.detach(), count_correct(logits, labels), labels.size(0));
}

void LogWindows::add_counts(const Tensor& loss, const Tensor& correct, int64_t rows) {
  NoGradGuard no_grad;
  loss_.add_(loss.to(DType::Float64));
  accuracy_.add_(correct.to(DType::Float64) * (1.0 / static_cast<double>(rows)));
  correct_.add_(correct);
  ++progress_.window_batches;
}

bool LogWindows::is_full() const { return progress_.window_batches == log_every_; }

void LogWindows::close(bool history, int64_t global_batch) {
  drain();
  readback_.post({loss_, accuracy_, correct_});
  const Progress& p = progress_;
  closed_ = {history, p.window_batches, p.epoch + 1, global_batch, p.batch, p.images_seen};
  reset_open();
}

void LogWindows::drain() {
  if (readback_.has_value()) fold(readback_.take(), closed_);
}

void LogWindows::save_open() {
  drain();
  NoGradGuard no_grad;
  progress_.window_loss_sum = loss_.item();
  progress_.window_accuracy_sum = accuracy_.item();
  progress_.epoch_correct += static_cast<int64_t>(correct_.item());
  correct_.zero_();
}

void LogWindows::fold(const std::vector<double>& sums, const Closed& w) {
  Progress& p = progress_;
  p.epoch_loss_sum += sums[0];
  p.epoch_accuracy_sum += sums[1];
  p.epoch_correct += static_cast<int64_t>(sums[2]);
  if (w.history) {
    last_loss_ = sums[0] / w.batches;
    last_accuracy_ = sums[1] / w.batches;
    const RunResult& run = record_.result;
    record_.history.push_back(
        {run.optimizer, run.repeat, w.epoch, w.global_batch, w.images_seen, last_loss_, last_accuracy_});
  }
  if (!std::isfinite(sums[0]) && diverged_at_.empty())
    diverged_at_ = fmt::format("epoch {}, batch {}", w.epoch, w.epoch_batch);
}

void LogWindows::reset_open() {
  NoGradGuard no_grad;
  loss_.zero_();
  accuracy_.zero_();
  correct_.zero_();
  progress_.window_batches = 0;
  progress_.window_loss_sum = progress_.window_accuracy_sum = 0;
}

}  // namespace ember::train
