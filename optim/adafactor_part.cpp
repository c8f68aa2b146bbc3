// The Adafactor part (kernels/optim_adafactor_rule.h): its state layout (row_var and col_var
// per factored parameter, variance per vector, packed in parameter order), its chunk table
// and workspace, and the dispatch to the CPU executor or the CUDA kernels (three launches per
// step).
#include "core/ops.h"
#include "optim/optimizer_part.h"
#include "optim/step_executors.h"

namespace ember::optim::detail {

namespace {

using kernels::AdafactorChunk;
using kernels::AdafactorTensor;

constexpr int kRowVar = 0, kColVar = 1, kVariance = 2;
constexpr const char* kNames[kernels::kMaxOptimStates] = {"row_var", "col_var", "variance"};

// Uploads a table of plain structs as int64 words (on the CPU: a host copy).
template <class T>
Tensor upload_table(const std::vector<T>& rows, Device device) {
  static_assert(sizeof(T) % 8 == 0, "tables are uploaded as int64 words");
  std::vector<int64_t> words(rows.size() * sizeof(T) / 8);
  if (!rows.empty()) std::memcpy(words.data(), rows.data(), words.size() * 8);
  return from_vector(words, {static_cast<int64_t>(words.size())}, TensorOptions(DType::Int64).device(device));
}

class AdafactorPart final : public Part {
 public:
  AdafactorPart(const PartSpec& spec, FlatParameters& params, std::vector<const FlatEntry*> entries)
      : Part(spec, params, std::move(entries)) {
    for (const FlatEntry* e : this->entries()) add_tensor(*e);
    tensor_table_ = upload_table(tensors_, params.device());
    chunk_table_ = upload_table(chunks_, params.device());
    const TensorOptions f64 = TensorOptions(DType::Float64).device(params.device());
    sums_ = zeros({2 * std::max<int64_t>(1, static_cast<int64_t>(chunks_.size()))}, f64);
    slice_mean_ = zeros({std::max<int64_t>(1, slices_)}, TensorOptions().device(params.device()));
  }

  unsigned slots_needed(const std::vector<Hyperparameters>&) const override { return 7u; }
  const char* state_name(int slot) const override { return kNames[slot]; }
  std::optional<StateView> view(int slot, size_t i) const override {
    const AdafactorTensor& t = tensors_[i];
    Shape shape = entries()[i]->param.sizes();
    if (t.factored == (slot == kVariance)) return std::nullopt;
    if (slot == kRowVar) shape.back() = 1;
    if (slot == kColVar) shape[shape.size() - 2] = 1;
    return StateView{slot == kColVar ? t.col_offset : t.row_offset, shape};
  }
  int64_t workspace_bytes() const override {
    return static_cast<int64_t>(sums_.nbytes() + slice_mean_.nbytes() + tensor_table_.nbytes() + chunk_table_.nbytes());
  }

  int64_t cuda_launches_per_step() const override { return chunks_.empty() ? 1 : 3; }

  void step(const StepInputs& in) override {
    kernels::AdafactorArgs a;
    a.param = params().values().data<float>();
    a.grad = params().grads().data<float>();
    a.row_var = state(kRowVar).data<float>();
    a.col_var = state(kColVar).data<float>();
    a.variance = state(kVariance).data<float>();
    const bool cpu = params().device().is_cpu();
    a.tensors = cpu ? tensors_.data() : static_cast<const AdafactorTensor*>(tensor_table_.raw_data());
    a.num_tensors = static_cast<int>(tensors_.size());
    a.chunks = cpu ? chunks_.data() : static_cast<const AdafactorChunk*>(chunk_table_.raw_data());
    a.num_chunks = static_cast<int64_t>(chunks_.size());
    a.param_sumsq = sums_.data<double>();
    a.update_sumsq = a.param_sumsq + std::max<int64_t>(1, a.num_chunks);
    a.slice_mean = slice_mean_.data<float>();
    a.num_groups = static_cast<int>(groups.size());
    for (size_t g = 0; g < groups.size(); ++g) a.hyper[g] = groups[g];
    a.step = in.step;
    a.device_lr = in.device_lr;
    a.device_step = in.device_step;
    a.completion = in.completion;
    a.advance_step = in.advance_step;
    if (cpu)
      cpu_adafactor_step(a);
    else
      cuda_adafactor_step(a);
  }

 protected:
  int64_t slot_numel(int slot) const override { return std::max<int64_t>(1, numel_[slot]); }

 private:
  // A parameter's tensor row, state offsets and chunks: factored over its last two sizes when
  // its rank is at least 2 (torch: grad.dim() > 1).
  void add_tensor(const FlatEntry& e) {
    AdafactorTensor t;
    t.offset = e.offset;
    t.numel = e.numel;
    t.group = e.group;
    t.factored = e.param.dim() >= 2;
    t.first_chunk = static_cast<int64_t>(chunks_.size());
    int64_t units = e.numel, per_unit = 1;  // chunks count slices (factored) or elements
    if (t.factored) {
      t.rows = e.param.size(-2), t.cols = e.param.size(-1);
      const int64_t slices = t.rows * t.cols == 0 ? 0 : e.numel / (t.rows * t.cols);
      t.row_offset = numel_[kRowVar], t.col_offset = numel_[kColVar], t.mean_offset = slices_;
      numel_[kRowVar] += slices * t.rows, numel_[kColVar] += slices * t.cols, slices_ += slices;
      units = slices, per_unit = t.rows * t.cols;
    } else {
      t.row_offset = numel_[kVariance];
      numel_[kVariance] += e.numel;
    }
    const int64_t per_chunk = std::max<int64_t>(1, kernels::kAdafactorChunk / std::max<int64_t>(1, per_unit));
    for (int64_t b = 0; b < units; b += per_chunk)
      chunks_.push_back({static_cast<int64_t>(tensors_.size()), b, std::min(units, b + per_chunk)});
    t.num_chunks = static_cast<int64_t>(chunks_.size()) - t.first_chunk;
    tensors_.push_back(t);
  }

  std::vector<AdafactorTensor> tensors_;
  std::vector<AdafactorChunk> chunks_;
  int64_t numel_[kernels::kMaxOptimStates] = {0, 0, 0};
  int64_t slices_ = 0;
  Tensor tensor_table_, chunk_table_, sums_, slice_mean_;
};

}  // namespace

std::unique_ptr<Part> make_adafactor_part(const PartSpec& spec, FlatParameters& params,
                                          std::vector<const FlatEntry*> entries) {
  return std::make_unique<AdafactorPart>(spec, params, std::move(entries));
}

}  // namespace ember::optim::detail
