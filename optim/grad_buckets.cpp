#include "optim/grad_buckets.h"

#include <algorithm>

#include "core/autograd/grad_mode.h"

namespace ember::optim {

namespace {

// Note [gradient buckets]: trainable entries from the end of the flat buffer to its start.
std::vector<const FlatEntry*> trainable_by_offset_descending(const FlatParameters& params) {
  std::vector<const FlatEntry*> entries;
  for (const FlatEntry& e : params.entries())
    if (e.trainable) entries.push_back(&e);
  std::sort(entries.begin(), entries.end(), [](const FlatEntry* a, const FlatEntry* b) { return a->offset > b->offset; });
  return entries;
}

}  // namespace

GradientBuckets::GradientBuckets(dist::Communicator& comm, FlatParameters& params, int64_t bucket_bytes)
    : comm_(comm), params_(params) {
  EMBER_CHECK(bucket_bytes > 0, "gradient buckets: bucket size {} bytes", bucket_bytes);
  EMBER_CHECK(comm_.accepts(params_.device()), "gradient buckets: the {} communicator cannot reduce buffers on {}",
              comm_.backend(), params_.device().str());
  std::vector<int> bucket_of;  // per entry of the descending list
  const std::vector<const FlatEntry*> entries = trainable_by_offset_descending(params_);
  int64_t end = params_.padded_numel();
  for (const FlatEntry* e : entries) {
    if (buckets_.empty() || (buckets_.back().end - buckets_.back().begin) * 4 >= bucket_bytes) {
      buckets_.push_back({e->offset, end, 0});
    }
    GradBucket& b = buckets_.back();
    b.begin = e->offset;
    ++b.parameters;
    bucket_of.push_back(static_cast<int>(buckets_.size()) - 1);
    end = b.begin;
  }
  if (buckets_.empty()) buckets_.push_back({0, params_.padded_numel(), 0});
  // Each bucket ends where the one before it begins; the last one also takes the start of the
  // buffer (frozen parameters, padding).
  buckets_.back().begin = 0;
  arrived_.assign(buckets_.size(), 0);

  for (size_t i = 0; i < entries.size(); ++i) {
    const int bucket = bucket_of[i];
    const int id = entries[i]->param.add_post_accumulate_grad_hook([this, bucket] { on_gradient(bucket); });
    hooks_.emplace_back(entries[i]->param, id);
  }
}

GradientBuckets::~GradientBuckets() {
  for (const auto& [param, id] : hooks_) param.remove_post_accumulate_grad_hook(id);
}

void GradientBuckets::on_gradient(int bucket) {
  ++arrived_[bucket];
  start_ready_buckets();
  // MPI advances a non-blocking collective only inside MPI calls: give the ones in flight a turn.
  for (const auto& request : in_flight_)
    if (request) request->test();
}

void GradientBuckets::start_ready_buckets() {
  while (next_to_start_ < static_cast<int>(buckets_.size()) &&
         arrived_[next_to_start_] >= buckets_[next_to_start_].parameters) {
    start(next_to_start_++);
    ++started_in_backward_;
  }
}

void GradientBuckets::start(int bucket) {
  const GradBucket& b = buckets_[bucket];
  in_flight_.push_back(comm_.all_reduce_sum_async(params_.grads().data<float>() + b.begin, b.end - b.begin));
}

void GradientBuckets::finish() {
  const int started_before = started_in_backward_;
  while (next_to_start_ < static_cast<int>(buckets_.size())) start(next_to_start_++);
  for (const auto& request : in_flight_) request->wait();
  in_flight_.clear();
  if (comm_.size() > 1) {
    NoGradGuard no_grad;
    params_.grads().mul_(1.0 / comm_.size());
  }
  std::fill(arrived_.begin(), arrived_.end(), 0);
  next_to_start_ = 0;
  started_in_backward_ = 0;
  last_started_in_backward_ = started_before;
}

}  // namespace ember::optim
