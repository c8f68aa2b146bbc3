// The 8-bit part (adam8bit, adamw8bit, sgd8bit, lion8bit): the element-wise rule of its
// algorithm with block-wise 8-bit state (kernels/optim_blockwise8_rule.h). Parameters of at
// least kMin8bitNumel elements are cut into 256-element blocks (a parameter's last block may
// be shorter; blocks never span two parameters, as bitsandbytes quantises each tensor on its
// own); each slot keeps one byte per block element and one float32 absmax per block. Smaller
// parameters keep float32 slots, packed, stepped by the ordinary fused step
// (bitsandbytes' min_8bit_size rule). A step is one launch over the blocks plus, when there
// are small parameters, one fused launch over them.
#include <fmt/format.h>

#include <algorithm>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "optim/optimizer_part.h"
#include "optim/segments.h"
#include "optim/state8bit.h"
#include "optim/step_executors.h"

namespace ember::optim::detail {

namespace {

using kernels::kMaxOptimStates;
using kernels::kQuantBlock;
using kernels::kQuantMapSize;

class Blockwise8Part final : public Part {
 public:
  Blockwise8Part(const PartSpec& spec, FlatParameters& params, std::vector<const FlatEntry*> entries)
      : Part(spec, params, std::move(entries)) {
    EMBER_CHECK(kernels::is_elementwise(algorithm()), "8-bit state: {} is not an element-wise optimiser", spec.name);
    // The block step keeps no group scalars (kernels/optim_blockwise8_rule.h).
    EMBER_CHECK(kernels::visit_optim_rule(algorithm(), [](auto rule) { return decltype(rule)::kScalarNames[0]; }) ==
                    nullptr,
                "8-bit state: {} has group scalars", spec.name);
    std::vector<SegmentSource> small;
    for (const FlatEntry* e : this->entries()) {
      if (e->numel < kernels::kMin8bitNumel) {
        small_offset_.push_back(small_numel_);
        first_block_.push_back(-1);
        if (e->numel > 0) small.push_back({e->offset, e->numel, small_numel_, e->group});
        small_numel_ += (e->numel + 3) / 4 * 4;
        continue;
      }
      small_offset_.push_back(-1);
      first_block_.push_back(static_cast<int64_t>(host_blocks_.size()));
      for (int64_t b = 0; b < e->numel; b += kQuantBlock) {
        const auto count = static_cast<int32_t>(std::min<int64_t>(kQuantBlock, e->numel - b));
        host_blocks_.push_back({e->offset + b, count, e->group});
      }
    }
    segments_ = make_segment_table(small, params.device());
    num_blocks_ = static_cast<int64_t>(host_blocks_.size());
    const int64_t table_bytes = num_blocks_ * int64_t(sizeof(kernels::Quant8Block));
    blocks_ = empty({table_bytes}, TensorOptions(DType::UInt8).device(params.device()));
    if (num_blocks_ > 0) copy_from_host(blocks_, host_blocks_.data(), static_cast<size_t>(table_bytes));
    std::vector<float> maps(2 * kQuantMapSize);
    kernels::dynamic_quant_map(true, maps.data());
    kernels::dynamic_quant_map(false, maps.data() + kQuantMapSize);
    maps_ = empty({2 * kQuantMapSize}, TensorOptions().device(params.device()));
    copy_from_host(maps_, maps.data(), maps.size() * sizeof(float));
  }

  unsigned slots_needed(const std::vector<Hyperparameters>& hypers) const override {
    return rule_slots_needed(algorithm(), hypers);
  }
  const char* state_name(int slot) const override { return rule_state_name(algorithm(), slot); }
  // Only small parameters have float32 slots; the others' state is in extra_states.
  std::optional<StateView> view(int, size_t i) const override {
    if (small_offset_[i] < 0) return std::nullopt;
    return StateView{small_offset_[i], entries()[i]->param.sizes()};
  }

  void allocate(unsigned slots) override {
    Part::allocate(slots);
    NoGradGuard no_grad;
    for (int k = 0; k < kMaxOptimStates; ++k) {
      if (!((slots >> k) & 1u) || bytes_[k].defined()) continue;
      bytes_[k] = zeros({num_blocks_ * kQuantBlock}, TensorOptions(DType::UInt8).device(params().device()));
      absmax_[k] = zeros({num_blocks_}, TensorOptions().device(params().device()));
    }
  }

  int64_t state_bytes() const override {
    int64_t bytes = Part::state_bytes() + static_cast<int64_t>(maps_.nbytes() + blocks_.nbytes());
    for (int k = 0; k < kMaxOptimStates; ++k)
      if (bytes_[k].defined()) bytes += static_cast<int64_t>(bytes_[k].nbytes() + absmax_[k].nbytes());
    return bytes;
  }

  std::vector<NamedState> extra_states(size_t i) const override {
    std::vector<NamedState> out;
    if (first_block_[i] < 0) return out;
    const int64_t first = first_block_[i], count = (entries()[i]->numel + kQuantBlock - 1) / kQuantBlock;
    for (int k = 0; k < kMaxOptimStates; ++k) {
      if (!bytes_[k].defined()) continue;
      out.push_back({state_name(k), flat_view(bytes_[k], first * kQuantBlock, {count, kQuantBlock})});
      out.push_back({fmt::format("{}.absmax", state_name(k)), flat_view(absmax_[k], first, {count})});
    }
    return out;
  }

  int64_t cuda_launches_per_step() const override { return (num_blocks_ > 0) + !segments_.segments.empty(); }

  // The small parameters' fused step, then the blocks' step. In capturable mode the last launch
  // advances the device step count: the blocks' when there are blocks, else the fused one
  // (which launches even with nothing to update, to advance the count).
  void step(const StepInputs& in) override {
    const bool cpu = params().device().is_cpu();
    if (!segments_.segments.empty() || (in.capturable() && num_blocks_ == 0)) {
      StepInputs small = in;
      small.advance_step = in.advance_step && num_blocks_ == 0;
      const kernels::FusedStepArgs a = fused_step_args(*this, segments_, small);
      if (cpu)
        cpu_fused_step(a);
      else
        cuda_fused_step(a);
    }
    if (num_blocks_ == 0) return;
    const kernels::Blockwise8Args a = blockwise8_args(in);
    if (cpu)
      cpu_blockwise8_step(a);
    else
      cuda_blockwise8_step(a);
  }

 protected:
  int64_t slot_numel(int) const override { return small_numel_; }

 private:
  kernels::Blockwise8Args blockwise8_args(const StepInputs& in) const {
    kernels::Blockwise8Args a;
    a.algorithm = algorithm();
    a.state_slots = slots();
    a.param = params().values().data<float>();
    a.grad = params().grads().data<float>();
    const float* maps = maps_.data<float>();
    for (int k = 0; k < kMaxOptimStates; ++k) {
      if (!((slots() >> k) & 1u)) continue;
      a.state[k] = bytes_[k].data<uint8_t>();
      a.absmax[k] = absmax_[k].data<float>();
      a.map[k] = maps + (kernels::quant_slot_unsigned(algorithm(), k) ? kQuantMapSize : 0);
    }
    a.blocks = params().device().is_cpu() ? host_blocks_.data()
                                          : static_cast<const kernels::Quant8Block*>(blocks_.raw_data());
    a.num_blocks = num_blocks_;
    a.num_groups = static_cast<int>(groups.size());
    for (size_t g = 0; g < groups.size(); ++g) a.hyper[g] = groups[g];
    a.step = in.step;
    a.device_lr = in.device_lr;
    a.device_step = in.device_step;
    a.completion = in.completion;
    a.advance_step = in.advance_step;
    return a;
  }

  std::vector<int64_t> small_offset_;  // per parameter: its float32 state offset, or -1
  std::vector<int64_t> first_block_;   // per parameter: its first block, or -1
  int64_t small_numel_ = 0, num_blocks_ = 0;
  SegmentTable segments_;
  std::vector<kernels::Quant8Block> host_blocks_;
  Tensor blocks_;  // the block table on the device (bytes)
  Tensor maps_;    // the signed map, then the unsigned one
  Tensor bytes_[kMaxOptimStates], absmax_[kMaxOptimStates];
};

}  // namespace

std::unique_ptr<Part> make_blockwise8_part(const PartSpec& spec, FlatParameters& params,
                                           std::vector<const FlatEntry*> entries) {
  return std::make_unique<Blockwise8Part>(spec, params, std::move(entries));
}

}  // namespace ember::optim::detail

namespace ember::optim {

State8bitCounts state8bit_counts(const Optimizer& optimizer) {
  State8bitCounts counts;
  const std::vector<PartSpec> parts = parse_optimizer_spec(optimizer.spec()).parts();
  for (int p = 0; p < optimizer.num_parts(); ++p) {
    if (!parts.at(static_cast<size_t>(p)).state8bit) continue;
    for (const FlatEntry* e : optimizer.part_parameters(p))
      (e->numel >= kernels::kMin8bitNumel ? counts.quantised : counts.float32) += 1;
  }
  return counts;
}

std::string describe_state8bit(const Optimizer& optimizer) {
  const State8bitCounts c = state8bit_counts(optimizer);
  if (c.quantised + c.float32 == 0) return "";
  return fmt::format("8-bit state for {} parameters, float32 for {} under {} elements", c.quantised, c.float32,
                     kernels::kMin8bitNumel);
}

}  // namespace ember::optim
