// Zero1Step: ZeRO stage 1 (optimiser state sharded over the ranks; llm.c's llmc/zero.cuh).
// Instead of all-reducing the gradients, each rank receives the sum of only its shard of them
// (reduce-scatter), runs the same fused step over its shard of the parameters and of the
// optimiser state, and the updated parameters are all-gathered. Every rank keeps the full
// parameters and gradients but 1/ranks of the optimiser state.
//
//   Zero1Step zero(comm, flat, parse_optimizer_spec("adam:lr=1e-3"));
//   zero.optimizer().zero_grad(); loss.backward(); zero.step();
//
// Only element-wise optimisers with 32-bit state (Schedule-Free's too: its group scalars follow
// from the lr and the step count, the same on every rank): Adafactor, Muon, the 8-bit optimisers and
// hybrids are a UsageError (check_shardable in optim/optimizer.h: they need whole parameters
// or whole 256-element blocks, and a shard may cut one).
//
// Shards: Note [flat buffer shards] in optim/optimizer.h, split by dist::even_parts
// in 4-element blocks. On two ranks the result is bit-identical to GradientBuckets + the full
// step (a sum of two floats does not depend on the order); on more, the reduction order of
// MPI's reduce-scatter and all-reduce may differ in the last bit.
#pragma once

#include <memory>
#include <vector>

#include "core/dist/communicator.h"
#include "optim/optimizer.h"

namespace ember::optim {

class Zero1Step {
 public:
  // comm and params must outlive this; params' buffers must be where comm accepts them.
  // `spec` must pass check_shardable, on any number of ranks.
  Zero1Step(dist::Communicator& comm, FlatParameters& params, const OptimizerSpec& spec);

  // After backward: reduce-scatter (mean over the ranks), the step over this rank's shard,
  // all-gather of the parameters.
  void step();

  // Collective: every rank's parameters from the shards, after the shard's optimizer moved
  // its own (Schedule-Free's eval(), ASGD's swap with its averages; Note [flat buffer shards]).
  void gather_parameters();

  // The shard's optimizer: hyperparameters, lr, state_bytes() of this rank.
  Optimizer& optimizer() { return *optimizer_; }
  const std::vector<int64_t>& shard_sizes() const { return counts_; }

  // Collective (every rank calls it): the full state dict, gathered on every rank.
  StateDict state_dict();
  // Not collective: every rank reads the same (full) state dict and keeps its shard, so a
  // checkpoint written on any number of ranks resumes on any other.
  void load_state_dict(const StateDict& state) { optimizer_->load_state_dict(state); }

 private:
  dist::Communicator& comm_;
  FlatParameters& params_;
  std::vector<int64_t> counts_;
  std::unique_ptr<Optimizer> optimizer_;
  Tensor received_;  // this rank's part of the reduced gradients
};

}  // namespace ember::optim
