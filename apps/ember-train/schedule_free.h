// ember-train with the Schedule-Free optimisers (sfadamw, sfsgd; Optimizer::eval/train in
// optim/optimizer.h): training runs at y, while every evaluation, checkpoint and --save-models
// sees the average x. A checkpoint therefore holds x as the model, with the optimiser's mode
// and y in its state; the trainer goes back to that y after loading it, as an uninterrupted
// run does after saving, so a resumed run continues bit for bit.
#pragma once

#include <cstdint>
#include <functional>

#include "apps/ember-train/config.h"
#include "data/loader.h"
#include "nn/module.h"
#include "optim/optimizer.h"

namespace ember::train {

// Batches of training data run through the model at x before each evaluation to recompute
// the batch-norm running statistics there (the schedulefree package's recommendation for BN
// models: the running averages (momentum 0.1) still hold y's statistics otherwise; after 50
// batches 1 - 0.9^50 = 99.5% of them are x's). Cost: 50 forward passes without gradients per
// evaluation, about a sixth of an epoch of 98 training steps (CIFAR-10, batch 512).
constexpr int64_t kBatchNormRecomputeBatches = 50;

// For the guard's lifetime a Schedule-Free optimiser's parameters are at x; back at y after.
// Nothing for other optimisers, or when they already are at x. `moved`, if set, runs after
// the move to x (--zero1: the shards' x gathered on every rank, Zero1Step::gather_parameters;
// the way back restores every rank's full y without it).
class AtAverage {
 public:
  explicit AtAverage(optim::Optimizer& optimizer, const std::function<void()>& moved = {});
  ~AtAverage();
  AtAverage(const AtAverage&) = delete;
  AtAverage& operator=(const AtAverage&) = delete;
  bool active() const { return active_; }

 private:
  optim::Optimizer& optimizer_;
  bool active_;
};

// Runs up to `batches` batches of epoch `epoch` of `loader` through `model` in training mode
// without gradients, so that the batch-norm running statistics follow the current
// parameters; the batches are the epoch's first (the same in a resumed run). Returns how many
// ran; the model is in training mode after. `rows`, if set, picks the rows of each batch to
// run (a data-parallel rank's shard, as in training; an empty pick is skipped).
using RowPick = std::function<Tensor(const Tensor& images)>;
int64_t recompute_batch_norm(nn::Module& model, data::Loader& loader, int64_t epoch, int64_t batches,
                             const RowPick& rows = {});

// Whether any part of `spec` is a Schedule-Free optimiser.
bool is_schedule_free(const optim::OptimizerSpec& spec);

// One warning on stderr when a Schedule-Free optimiser is given an lr schedule or warm-up:
// they need none (their own warmup_steps key warms up), and the schedule still applies.
void warn_schedule_free_with_lr_schedule(const TrainConfig& config);

}  // namespace ember::train
