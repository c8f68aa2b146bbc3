// The element-wise part: a rule of kernels/optim_rules.h applied by ONE fused pass over the
// part's segments (kernels/optim_step.cu on CUDA, optim/cpu_step.cpp on the CPU), or over the
// pieces of them inside a shard (Note [flat buffer shards] in optim/optimizer.h).
#include <algorithm>

#include "optim/optimizer_part.h"
#include "optim/segments.h"
#include "optim/step_executors.h"

namespace ember::optim::detail {

namespace {

class ElementwisePart final : public Part {
 public:
  ElementwisePart(const PartSpec& spec, FlatParameters& params, std::vector<const FlatEntry*> entries, bool whole,
                  FlatShard shard)
      : Part(spec, params, std::move(entries)), layout_(packed_layout(params, this->entries(), whole)), shard_(shard) {
    std::vector<SegmentSource> sources;
    for (size_t i = 0; i < this->entries().size(); ++i) {
      const FlatEntry& e = *this->entries()[i];
      if (shard_.end < 0) {
        sources.push_back({e.offset, e.numel, layout_.offsets[i], e.group});
        continue;
      }
      // The piece of the parameter inside the shard; its state lies `begin` earlier.
      const int64_t first = std::max(e.offset, shard_.begin), last = std::min(e.offset + e.numel, shard_.end);
      if (first < last) sources.push_back({first, last - first, first - shard_.begin, e.group});
    }
    segments_ = make_segment_table(sources, params.device());
  }

  unsigned slots_needed(const std::vector<Hyperparameters>& hypers) const override {
    return rule_slots_needed(algorithm(), hypers);
  }
  const char* state_name(int slot) const override { return rule_state_name(algorithm(), slot); }
  const char* scalar_name(int k) const override {
    return kernels::visit_optim_rule(algorithm(), [&](auto rule) { return decltype(rule)::kScalarNames[k]; });
  }
  std::optional<StateView> view(int, size_t i) const override {
    return StateView{layout_.offsets[i], entries()[i]->param.sizes()};
  }

  int64_t cuda_launches_per_step() const override { return 1; }

  void step(const StepInputs& in) override {
    kernels::FusedStepArgs a = fused_step_args(*this, segments_, in);
    if (params().device().is_cpu())
      cpu_fused_step(a);
    else
      cuda_fused_step(a);
    if (in.capturable()) return;
    kernels::visit_optim_rule(algorithm(), [&](auto rule) {
      for (size_t g = 0; g < groups.size(); ++g)
        scalars[g] = decltype(rule)::next_scalars(groups[g], in.step, groups[g].lr, scalars[g]);
    });
  }

 protected:
  int64_t slot_numel(int) const override { return shard_.end < 0 ? layout_.numel : shard_.end - shard_.begin; }

 private:
  PackedLayout layout_;  // the full-length layout (also of a sharded part's gathered state)
  FlatShard shard_;      // end < 0: not sharded
  SegmentTable segments_;
};

}  // namespace

unsigned rule_slots_needed(Algorithm algorithm, const std::vector<Hyperparameters>& groups) {
  return kernels::visit_optim_rule(algorithm, [&](auto rule) {
    unsigned slots = decltype(rule)::kRequiredSlots;
    for (const Hyperparameters& h : groups) slots |= decltype(rule)::slots_needed(h);
    return slots;
  });
}

const char* rule_state_name(Algorithm algorithm, int slot) {
  return kernels::visit_optim_rule(algorithm, [&](auto rule) { return decltype(rule)::kStateNames[slot]; });
}

kernels::FusedStepArgs fused_step_args(const Part& part, const SegmentTable& segments, const StepInputs& in) {
  kernels::FusedStepArgs a;
  a.algorithm = part.algorithm();
  a.state_slots = part.slots();
  a.param = part.params().values().data<float>();
  a.grad = part.params().grads().data<float>();
  for (int k = 0; k < kernels::kMaxOptimStates; ++k)
    a.state[k] = ((part.slots() >> k) & 1u) ? part.state(k).data<float>() : nullptr;
  a.segments = segments.data(part.params().device());
  a.num_segments = static_cast<int>(segments.segments.size());
  a.num_granules = segments.num_granules;
  a.num_groups = static_cast<int>(part.groups.size());
  for (size_t g = 0; g < part.groups.size(); ++g) {
    a.hyper[g] = part.groups[g];
    a.scalars[g] = part.scalars[g];
  }
  a.step = in.step;
  a.device_lr = in.device_lr;
  a.device_step = in.device_step;
  a.completion = in.completion;
  a.device_scalars = in.device_scalars;
  a.advance_step = in.advance_step;
  return a;
}

std::unique_ptr<Part> make_elementwise_part(const PartSpec& spec, FlatParameters& params,
                                            std::vector<const FlatEntry*> entries, bool whole, FlatShard shard) {
  return std::make_unique<ElementwisePart>(spec, params, std::move(entries), whole, shard);
}

}  // namespace ember::optim::detail
