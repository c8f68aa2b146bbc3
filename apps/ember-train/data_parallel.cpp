#include "apps/ember-train/data_parallel.h"

#include <string>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"

namespace ember::train {

RowRange shard_rows(int64_t rows, int rank, int ranks) {
  return {rows * rank / ranks, rows * (rank + 1) / ranks};
}

DataParallelRun::DataParallelRun(RankComms comms, bool zero1, optim::FlatParameters& flat,
                                 const optim::OptimizerSpec& spec)
    : comms_(comms), flat_(flat) {
  if (zero1) {
    zero1_ = std::make_unique<optim::Zero1Step>(comms_.device, flat_, spec);
  } else {
    optimizer_ = optim::make_optimizer(spec, flat_);
    buckets_ = std::make_unique<optim::GradientBuckets>(comms_.device, flat_);
  }
  sums_ = zeros({2}, TensorOptions().device(flat_.device()));
}

DataParallelRun::~DataParallelRun() = default;

optim::Optimizer& DataParallelRun::optimizer() { return zero1_ ? zero1_->optimizer() : *optimizer_; }

DataParallelRun::Figures DataParallelRun::step(nn::Module& model, const data::Batch& global, double label_smoothing) {
  const int64_t rows = global.size();
  const RowRange mine = shard_rows(rows, rank(), ranks());
  const int64_t n = mine.end - mine.begin;
  optimizer().zero_grad();
  Tensor loss_sum, correct;
  if (n > 0) {
    const Tensor images = my_rows(global.images);
    const Tensor labels = my_rows(global.labels);
    Tensor logits = model(images);
    Tensor loss = cross_entropy(logits, labels, label_smoothing);
    // Note [data-parallel ember-train]: the buckets' mean over the ranks of this is the
    // gradient of the global batch's mean loss.
    (loss * (static_cast<double>(n * ranks()) / static_cast<double>(rows))).backward();
    NoGradGuard no_grad;
    loss_sum = loss.detach() * static_cast<double>(n);
    correct = count_correct(logits.detach(), labels);
  }
  if (zero1_) {
    zero1_->step();
  } else {
    buckets_->finish();
    optimizer_->step();
  }
  NoGradGuard no_grad;
  sums_.zero_();
  if (n > 0) {
    sums_.slice(0, 0, 1).copy_(loss_sum.reshape({1}).to(DType::Float32));
    sums_.slice(0, 1, 2).copy_(correct.reshape({1}).to(DType::Float32));
  }
  comms_.device.all_reduce_sum(sums_.data<float>(), 2);
  const Tensor totals = sums_.to(DType::Float64);
  return {totals.select(0, 0) * (1.0 / static_cast<double>(rows)), totals.select(0, 1).to(DType::Int64)};
}

bool DataParallelRun::any(bool mine) {
  std::vector<std::string> votes = comms_.host.gather_bytes(mine ? "1" : "0", 0);
  char verdict = 0;
  for (const std::string& v : votes) verdict = static_cast<char>(verdict | (v == "1"));
  comms_.host.broadcast_bytes(&verdict, 1, 0);
  return verdict != 0;
}

void DataParallelRun::broadcast_buffers(nn::Module& model) {
  if (ranks() == 1) return;
  NoGradGuard no_grad;
  for (auto& [name, buffer] : model.named_buffers()) {
    Tensor host = buffer.device().is_cpu() ? buffer.clone() : buffer.to(Device::cpu());  // contiguous
    comms_.host.broadcast_bytes(host.raw_data(), static_cast<int64_t>(host.nbytes()), 0);
    buffer.copy_(host);
  }
}

Tensor DataParallelRun::my_rows(const Tensor& global) const {
  const RowRange mine = shard_rows(global.size(0), rank(), ranks());
  return global.slice(0, mine.begin, mine.end);
}

void DataParallelRun::gather_parameters() {
  if (zero1_) zero1_->gather_parameters();
}

optim::StateDict DataParallelRun::state_dict() { return zero1_ ? zero1_->state_dict() : optimizer_->state_dict(); }

}  // namespace ember::train
