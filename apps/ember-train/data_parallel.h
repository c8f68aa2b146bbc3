// Data-parallel training of one ember-train run (--data-parallel, --zero1) under mpirun or
// srun: every rank trains the same run on its rows of each global batch.
//
// Note [data-parallel ember-train]
// The loader gives every rank the same global batch (the batch size and batch order of one
// process; each rank's loader is seeded by the run's seed); rank r takes rows
// [r * b / N, (r + 1) * b / N) of a batch of b rows, so shards may be uneven (the last batch of
// an epoch) or empty (b < N). The backward runs on the shard's mean loss times n_r * N / b, so
// that GradientBuckets' mean over the ranks (optim/grad_buckets.h) is the gradient of the
// global batch's mean loss; an empty shard contributes zero gradients and still joins every
// all-reduce. The optimiser step is the unchanged one (--zero1: optim/zero1.h, the state
// sharded over the ranks). The step's loss and correct count are summed over the ranks (one
// all-reduce of two floats), so every rank logs the global batch's figures and takes the
// same divergence decision; stop requests (Ctrl-C, --stop-after-steps) are agreed the same
// way after every step.
//
// Batch norm normalises by each rank's shard (PyTorch DDP's default, not SyncBatchNorm), so a
// run on N ranks is not the one-process computation when the model has batch norm; the running
// statistics kept are rank 0's (DDP broadcasts rank 0's buffers before every forward, which
// leaves the same values): they are broadcast before every evaluation (rank 0 writes the
// checkpoints). Schedule-Free's evaluation at x recomputes them there the same way: each rank
// runs its rows of the recompute batches, then rank 0's are broadcast; under ZeRO-1 the
// shards' x (and ASGD's averages) are gathered before (Zero1Step::gather_parameters).
#pragma once

#include <memory>

#include "core/dist/communicator.h"
#include "core/tensor.h"
#include "data/loader.h"
#include "nn/module.h"
#include "optim/grad_buckets.h"
#include "optim/optimizer.h"
#include "optim/zero1.h"

namespace ember::train {

// The communicators of a data-parallel job: `device` reduces the gradients (MPI on the CPU,
// NCCL on a GPU), `host` moves host bytes (flags, batch-norm buffers).
struct RankComms {
  dist::Communicator& device;
  dist::Communicator& host;
};

class DataParallelRun {
 public:
  // The run's optimiser over `flat`: the full one with gradient buckets, or (zero1) this
  // rank's shard of it. comms and flat must outlive this.
  DataParallelRun(RankComms comms, bool zero1, optim::FlatParameters& flat, const optim::OptimizerSpec& spec);
  ~DataParallelRun();

  int rank() const { return comms_.device.rank(); }
  int ranks() const { return comms_.device.size(); }
  optim::Optimizer& optimizer();

  // The global batch's loss (float64 scalar) and correct count (int64 scalar), on the device.
  struct Figures {
    Tensor loss, correct;
  };
  // One step: this rank's rows of `global` forward and backward, gradients reduced, the
  // optimiser's step.
  Figures step(nn::Module& model, const data::Batch& global, double label_smoothing);

  // Whether any rank says `mine` (collective: every rank calls it after every step).
  bool any(bool mine);
  // Rank 0's buffers (batch-norm statistics) into every rank's model (collective).
  void broadcast_buffers(nn::Module& model);
  // This rank's rows of a global batch's tensor (shard_rows; possibly none).
  Tensor my_rows(const Tensor& global) const;
  // Collective under ZeRO-1 (nothing otherwise): every rank's parameters from the shards after
  // the optimiser moved its shard's (Schedule-Free's x, ASGD's averages).
  void gather_parameters();
  // The full optimiser state (collective under ZeRO-1: gathered from the shards).
  optim::StateDict state_dict();

 private:
  RankComms comms_;
  optim::FlatParameters& flat_;
  std::unique_ptr<optim::Optimizer> optimizer_;   // plain data parallelism
  std::unique_ptr<optim::GradientBuckets> buckets_;
  std::unique_ptr<optim::Zero1Step> zero1_;       // --zero1
  Tensor sums_;                                   // float32 [2]: loss * rows, correct rows
};

// Rank r's rows [r * n / N, (r + 1) * n / N) of n.
struct RowRange {
  int64_t begin = 0, end = 0;
};
RowRange shard_rows(int64_t rows, int rank, int ranks);

}  // namespace ember::train
