// GradientBuckets: data-parallel gradients. Each rank runs backward on its shard of the global
// batch; the flat gradient buffer is all-reduced in buckets while backward is still running
// (PyTorch DDP's reducer, llm.c's multi-GPU step), and finish() leaves the mean over the ranks
// in it, so the optimiser step that follows is the unchanged one.
//
//   GradientBuckets buckets(comm, flat);       // hooks every trainable parameter
//   opt.zero_grad(); loss.backward(); buckets.finish(); opt.step();
//
// Note [gradient buckets]
// Buckets are contiguous ranges of the flat gradient buffer that together cover all of it,
// built from the end of the buffer (the last layers, whose gradients backward produces first)
// towards its start, each at least bucket_bytes (the last one what is left). A bucket's
// all-reduce starts when the post-accumulate hook of its last trainable parameter has fired,
// but only after every earlier bucket's has started: every rank must start the same
// collectives in the same order. Padding and frozen parameters inside a bucket are zero on
// every rank and stay zero. A bucket whose parameters got no gradient in a backward (unused
// layers) starts in finish(). One backward per step: gradient accumulation over several
// backward passes would start the all-reduces after the first.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/dist/communicator.h"
#include "optim/flat_parameters.h"

namespace ember::optim {

struct GradBucket {
  int64_t begin = 0, end = 0;  // elements of the flat gradient buffer
  int parameters = 0;          // trainable parameters inside: hooks to wait for
};

class GradientBuckets {
 public:
  // PyTorch DDP's default bucket size.
  static constexpr int64_t kDefaultBucketBytes = 25 << 20;

  // comm and params must outlive this; params' buffers must be where comm accepts them.
  GradientBuckets(dist::Communicator& comm, FlatParameters& params, int64_t bucket_bytes = kDefaultBucketBytes);
  ~GradientBuckets();
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  // After backward: starts the buckets not started yet, waits for all and divides by the
  // number of ranks. Ready for the next backward afterwards.
  void finish();

  const std::vector<GradBucket>& buckets() const { return buckets_; }
  // Buckets whose all-reduce started while the last backward ran (before finish()).
  int started_during_backward() const { return last_started_in_backward_; }
  // Bytes all-reduced per step: the whole flat gradient buffer.
  int64_t bytes_per_step() const { return params_.padded_numel() * static_cast<int64_t>(sizeof(float)); }

 private:
  void on_gradient(int bucket);
  void start_ready_buckets();
  void start(int bucket);

  dist::Communicator& comm_;
  FlatParameters& params_;
  std::vector<GradBucket> buckets_;
  std::vector<int> arrived_;  // hooks fired per bucket in this backward
  std::vector<std::unique_ptr<dist::Request>> in_flight_;
  int next_to_start_ = 0;
  int started_in_backward_ = 0, last_started_in_backward_ = 0;
  std::vector<std::pair<Tensor, int>> hooks_;  // (parameter, hook id), removed on destruction
};

}  // namespace ember::optim
