#include "optim/zero1.h"

#include "core/autograd/grad_mode.h"
#include "core/dist/partition.h"

namespace ember::optim {

namespace {

FlatShard shard_of(const std::vector<int64_t>& counts, int rank) {
  const int64_t begin = dist::displacement(counts, rank);
  return {begin, begin + counts[rank]};
}

}  // namespace

Zero1Step::Zero1Step(dist::Communicator& comm, FlatParameters& params, const OptimizerSpec& spec)
    : comm_(comm), params_(params), counts_(dist::even_parts(params.padded_numel(), comm.size(), 4)) {
  check_shardable(spec);
  EMBER_CHECK(comm_.accepts(params_.device()), "ZeRO-1: the {} communicator cannot reduce buffers on {}",
              comm_.backend(), params_.device().str());
  optimizer_ = std::make_unique<Optimizer>(spec, params_, shard_of(counts_, comm_.rank()));
  received_ = zeros({counts_[comm_.rank()]}, TensorOptions().device(params_.device()));
}

void Zero1Step::step() {
  NoGradGuard no_grad;
  const FlatShard shard = optimizer_->shard();
  comm_.reduce_scatter_sum(params_.grads().data<float>(), received_.data<float>(), counts_);
  // The mean, written back where the step reads it; the other shards' gradients stay as this
  // rank's backward left them (nothing reads them).
  Tensor mine = params_.grads().slice(0, shard.begin, shard.end);
  mine.copy_(received_);
  if (comm_.size() > 1) mine.mul_(1.0 / comm_.size());
  optimizer_->step();
  gather_parameters();
}

void Zero1Step::gather_parameters() { comm_.all_gather(params_.values().data<float>(), counts_); }

StateDict Zero1Step::state_dict() {
  NoGradGuard no_grad;
  const FlatShard shard = optimizer_->shard();
  std::vector<Tensor> full;
  for (const std::string& name : optimizer_->state_names()) {
    Tensor gathered = zeros({params_.padded_numel()}, TensorOptions().device(params_.device()));
    gathered.slice(0, shard.begin, shard.end).copy_(optimizer_->state(name));
    comm_.all_gather(gathered.data<float>(), counts_);
    full.push_back(gathered);
  }
  return optimizer_->state_dict_from(full);
}

}  // namespace ember::optim
