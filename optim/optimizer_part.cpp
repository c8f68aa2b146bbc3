#include "optim/optimizer_part.h"

#include "core/autograd/grad_mode.h"
#include "core/ops.h"

namespace ember::optim::detail {

Part::Part(const PartSpec& spec, FlatParameters& params, std::vector<const FlatEntry*> entries)
    : spec_(spec), params_(params), entries_(std::move(entries)) {
  groups.assign(static_cast<size_t>(params.num_groups()), spec.hyper);
  scalars.assign(groups.size(), kernels::OptimScalars{});
}

void Part::allocate(unsigned slots) {
  NoGradGuard no_grad;
  for (int k = 0; k < kernels::kMaxOptimStates; ++k) {
    if (!((slots >> k) & 1u) || ((slots_ >> k) & 1u)) continue;
    states_[k] = zeros({slot_numel(k)}, TensorOptions().device(params_.device()));
    slots_ |= 1u << k;
  }
}

int64_t Part::state_bytes() const {
  int64_t bytes = 0;
  for (const Tensor& s : states_)
    if (s.defined()) bytes += static_cast<int64_t>(s.nbytes());
  return bytes;
}

std::unique_ptr<Part> make_elementwise_part(const PartSpec& spec, FlatParameters& params,
                                            std::vector<const FlatEntry*> entries, bool whole, FlatShard shard);
std::unique_ptr<Part> make_adafactor_part(const PartSpec& spec, FlatParameters& params,
                                          std::vector<const FlatEntry*> entries);
std::unique_ptr<Part> make_muon_part(const PartSpec& spec, FlatParameters& params,
                                     std::vector<const FlatEntry*> entries);
std::unique_ptr<Part> make_blockwise8_part(const PartSpec& spec, FlatParameters& params,
                                           std::vector<const FlatEntry*> entries);

std::unique_ptr<Part> make_part(const PartSpec& spec, FlatParameters& params, std::vector<const FlatEntry*> entries,
                                bool whole, FlatShard shard) {
  EMBER_CHECK(shard.end < 0 || (whole && !spec.state8bit && spec.algorithm != Algorithm::Adafactor &&
                                spec.algorithm != Algorithm::Muon),
              "optimizer: a {} part cannot be sharded", spec.name);
  if (spec.state8bit) return make_blockwise8_part(spec, params, std::move(entries));
  switch (spec.algorithm) {
    case Algorithm::Adafactor: return make_adafactor_part(spec, params, std::move(entries));
    case Algorithm::Muon: return make_muon_part(spec, params, std::move(entries));
    default: return make_elementwise_part(spec, params, std::move(entries), whole, shard);
  }
}

PackedLayout packed_layout(const FlatParameters& params, const std::vector<const FlatEntry*>& entries, bool whole) {
  PackedLayout layout;
  if (whole) layout.numel = params.padded_numel();
  for (const FlatEntry* e : entries) {
    if (whole) {
      layout.offsets.push_back(e->offset);
    } else {
      layout.offsets.push_back(layout.numel);
      layout.numel += (e->numel + 3) / 4 * 4;
    }
  }
  return layout;
}

}  // namespace ember::optim::detail
