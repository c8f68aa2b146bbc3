// The Muon part (kernels/optim_muon_rule.h): weight matrices (convolutions flattened to
// [out, in kh kw]) batched by shape and group, the momentum buffer packed in parameter order,
// the Newton-Schulz workspace (bfloat16 on CUDA, per-thread float scratch on the CPU), and
// the dispatch to the executors.
#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>

#include "core/ops.h"
#include "core/parallel.h"
#include "optim/optimizer_part.h"
#include "optim/step_executors.h"

namespace ember::optim::detail {

namespace {

using kernels::MuonBatch;
using kernels::MuonMatrix;

class MuonPart final : public Part {
 public:
  MuonPart(const PartSpec& spec, FlatParameters& params, std::vector<const FlatEntry*> entries)
      : Part(spec, params, std::move(entries)), layout_(packed_layout(params, this->entries(), false)) {
    for (const FlatEntry* e : this->entries())
      EMBER_USAGE_CHECK(e->param.dim() >= 2, "muon updates weight matrices only; parameter '{}' has shape {}", e->name,
                        shape_str(e->param.sizes()));
    plan();
    std::vector<int64_t> words(matrices_.size() * sizeof(MuonMatrix) / 8);
    if (!matrices_.empty()) std::memcpy(words.data(), matrices_.data(), words.size() * 8);
    matrix_table_ =
        from_vector(words, {static_cast<int64_t>(words.size())}, TensorOptions(DType::Int64).device(params.device()));
    allocate_workspace();
  }

  unsigned slots_needed(const std::vector<Hyperparameters>&) const override { return 1u; }
  const char* state_name(int slot) const override { return slot == 0 ? "momentum_buffer" : nullptr; }
  std::optional<StateView> view(int slot, size_t i) const override {
    if (slot != 0) return std::nullopt;
    return StateView{layout_.offsets[i], entries()[i]->param.sizes()};
  }
  int64_t workspace_bytes() const override {
    int64_t bytes = static_cast<int64_t>(matrix_table_.nbytes());
    for (const Tensor* t : {&x_[0], &x_[1], &gram_[0], &gram_[1], &scratch_})
      if (t->defined()) bytes += static_cast<int64_t>(t->nbytes());
    return bytes;
  }

  // Note [Newton-Schulz launches] in optim/cuda_step.cpp.
  int64_t cuda_launches_per_step() const override {
    if (matrices_.empty()) return 0;
    int64_t launches = 3, most = 0;  // pack, normalise, apply
    for (const Hyperparameters& h : groups) most = std::max(most, static_cast<int64_t>(h.ns_steps));
    for (int64_t it = 0; it < most; ++it) {
      launches += 2;  // the two copies
      for (const MuonBatch& b : batches_) launches += it < static_cast<int64_t>(groups[b.group].ns_steps) ? 3 : 0;
    }
    return launches;
  }

  void step(const StepInputs& in) override {
    EMBER_CHECK(!in.advance_step, "muon never ends an optimiser step (it is the first part of a hybrid)");
    kernels::MuonArgs a;
    a.param = params().values().data<float>();
    a.grad = params().grads().data<float>();
    a.momentum_buffer = state(0).data<float>();
    const bool cpu = params().device().is_cpu();
    a.matrices = cpu ? matrices_.data() : static_cast<const MuonMatrix*>(matrix_table_.raw_data());
    a.num_matrices = static_cast<int>(matrices_.size());
    a.batches = batches_.data();
    a.num_batches = static_cast<int>(batches_.size());
    a.num_groups = static_cast<int>(groups.size());
    for (size_t g = 0; g < groups.size(); ++g) {
      a.hyper[g] = groups[g];
      a.max_ns_steps = std::max(a.max_ns_steps, static_cast<int64_t>(groups[g].ns_steps));
    }
    a.device_lr = in.device_lr;
    if (cpu) {
      allocate_workspace();  // the thread count may have grown
      a.scratch = scratch_.data<float>();
      a.scratch_per_thread = cpu_muon_scratch_per_thread(matrices_);
      cpu_muon_step(a);
      return;
    }
    for (int k = 0; k < 2; ++k) a.x[k] = x_[k].raw_data(), a.gram[k] = gram_[k].raw_data();
    cuda_muon_step(a);
  }

 protected:
  int64_t slot_numel(int) const override { return std::max<int64_t>(1, layout_.numel); }

 private:
  // The matrices, grouped into batches of one shape (after the transpose) and group.
  void plan() {
    std::map<std::tuple<int64_t, int64_t, int>, std::vector<MuonMatrix>> by_shape;
    std::vector<std::tuple<int64_t, int64_t, int>> order;  // batches in order of first appearance
    for (size_t i = 0; i < entries().size(); ++i) {
      const FlatEntry& e = *entries()[i];
      if (e.numel == 0) continue;
      MuonMatrix w;
      w.param_offset = e.offset;
      w.state_offset = layout_.offsets[i];
      w.rows = e.param.size(0);
      w.cols = e.numel / w.rows;
      w.transposed = w.rows > w.cols;
      w.group = e.group;
      const auto key = std::make_tuple(std::min(w.rows, w.cols), std::max(w.rows, w.cols), e.group);
      if (by_shape[key].empty()) order.push_back(key);
      by_shape[key].push_back(w);
    }
    int64_t x = 0, gram = 0;
    for (const auto& key : order) {
      MuonBatch b;
      std::tie(b.m, b.k, b.group) = key;
      b.count = static_cast<int64_t>(by_shape[key].size());
      b.x_offset = x, b.gram_offset = gram;
      for (MuonMatrix& w : by_shape[key]) {
        w.x_offset = x;
        x += b.m * b.k;
        matrices_.push_back(w);
      }
      gram += b.count * b.m * b.m;
      batches_.push_back(b);
    }
    x_numel_ = x, gram_numel_ = gram;
  }

  void allocate_workspace() {
    const Device device = params().device();
    if (device.is_cpu()) {
      const int64_t needed = int64_t(num_threads()) * cpu_muon_scratch_per_thread(matrices_);
      if (!scratch_.defined() || scratch_.numel() < needed) scratch_ = empty({std::max<int64_t>(1, needed)});
      return;
    }
    if (x_[0].defined()) return;
    const TensorOptions bf16 = TensorOptions(DType::BFloat16).device(device);
    for (int k = 0; k < 2; ++k) {
      x_[k] = empty({std::max<int64_t>(1, x_numel_)}, bf16);
      gram_[k] = empty({std::max<int64_t>(1, gram_numel_)}, bf16);
    }
  }

  PackedLayout layout_;
  std::vector<MuonMatrix> matrices_;
  std::vector<MuonBatch> batches_;
  int64_t x_numel_ = 0, gram_numel_ = 0;
  Tensor matrix_table_, x_[2], gram_[2], scratch_;
};

}  // namespace

std::unique_ptr<Part> make_muon_part(const PartSpec& spec, FlatParameters& params,
                                     std::vector<const FlatEntry*> entries) {
  return std::make_unique<MuonPart>(spec, params, std::move(entries));
}

}  // namespace ember::optim::detail
