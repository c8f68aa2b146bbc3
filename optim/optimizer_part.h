// One part of an Optimizer: one algorithm over a subset of the trainable parameters, with
// its own hyperparameters per parameter group, its own state buffers and its own step. A
// plain optimiser is one part over every trainable parameter; a hybrid `A+B` (optim/hybrid.h)
// is two. Internal to optim/: callers use Optimizer.
//
// Three kinds (make_part picks by algorithm):
//   element-wise (optim/elementwise_part.cpp): a rule of kernels/optim_rules.h, ONE fused
//       launch per step over the part's segments;
//   Adafactor (optim/adafactor_part.cpp): factored second moments, three passes;
//   Muon (optim/muon_part.cpp): momentum, then Newton-Schulz as batched GEMMs per shape;
//   8-bit (optim/blockwise8_part.cpp, spec.state8bit): an element-wise rule whose state is
//       kept in 8 bits per element and one absmax per 256-element block (parameters under
//       4,096 elements keep float32 slots): one fused launch per kind of parameter.
//
// State: up to kMaxOptimStates flat float32 buffers ("slots", named as torch names them);
// view(slot, i) says where parameter i of the part keeps it and in which shape (torch's: an
// element-wise state is shaped like the parameter, Adafactor's row_var like the parameter with
// its last dimension 1). A part over every trainable parameter lays element-wise state out
// like the parameters (state offset = parameter offset); a hybrid's part packs it. A sharded
// element-wise part (Note [flat buffer shards] in optim/optimizer.h) keeps only its shard of
// that layout; its view() still gives offsets in the full-length layout (the gathered buffers).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/optim_flat.h"
#include "optim/flat_parameters.h"
#include "optim/optimizer.h"
#include "optim/spec.h"

namespace ember::optim {
struct SegmentTable;
}

namespace ember::optim::detail {

// What one step needs besides the part's own data.
struct StepInputs {
  int64_t step = 0;  // host mode: the 1-based number of this step
  // Capturable mode (all set, on the parameters' device; Note [capturable step]):
  const double* device_lr = nullptr;        // this part's learning rates [groups]
  unsigned long long* device_step = nullptr;  // the optimiser's step counter
  unsigned long long* completion = nullptr;   // this part's completion counter
  double* device_scalars = nullptr;         // this part's group scalars [groups * kMaxOptimScalars]
  bool advance_step = false;                // this part's step ends the optimiser's: it advances device_step
  bool capturable() const { return device_step != nullptr; }
};

// Where one parameter keeps one state: `numel` elements at `offset` of the slot's buffer,
// shaped `shape`.
struct StateView {
  int64_t offset = 0;
  Shape shape;
};

class Part {
 public:
  Part(const PartSpec& spec, FlatParameters& params, std::vector<const FlatEntry*> entries);
  virtual ~Part() = default;
  Part(const Part&) = delete;
  Part& operator=(const Part&) = delete;

  const PartSpec& spec() const { return spec_; }
  Algorithm algorithm() const { return spec_.algorithm; }
  const std::vector<const FlatEntry*>& entries() const { return entries_; }
  FlatParameters& params() const { return params_; }

  // Hyperparameters per parameter group, and the group scalars (Note [group scalars]) the
  // host keeps in host mode.
  std::vector<Hyperparameters> groups;
  std::vector<kernels::OptimScalars> scalars;

  // The state slots `groups` need; slot names and scalar names (nullptr: none).
  virtual unsigned slots_needed(const std::vector<Hyperparameters>& groups) const = 0;
  virtual const char* state_name(int slot) const = 0;
  virtual const char* scalar_name(int k) const { return nullptr; }
  // Where parameter i (of entries()) keeps `slot`; nullopt if it has none there.
  virtual std::optional<StateView> view(int slot, size_t i) const = 0;

  // Allocates (zero) every slot of `slots` not yet there.
  virtual void allocate(unsigned slots);
  unsigned slots() const { return slots_; }
  const Tensor& state(int slot) const { return states_[slot]; }
  virtual int64_t state_bytes() const;
  // State of parameter i kept outside the float32 slots (the 8-bit part's bytes and absmax),
  // saved and loaded by the state dict as "<parameter name>.<name>": views into the part's
  // buffers, for the slots allocated.
  struct NamedState {
    std::string name;
    Tensor view;
  };
  virtual std::vector<NamedState> extra_states(size_t /*i*/) const { return {}; }
  // Memory the step needs besides the state (kept between steps: no allocation per step).
  virtual int64_t workspace_bytes() const { return 0; }
  // Kernel launches (and cuBLAS calls and copies) of one step on CUDA.
  virtual int64_t cuda_launches_per_step() const = 0;

  virtual void step(const StepInputs& in) = 0;

 protected:
  // Elements of `slot`'s buffer.
  virtual int64_t slot_numel(int slot) const = 0;

 private:
  PartSpec spec_;
  FlatParameters& params_;
  std::vector<const FlatEntry*> entries_;
  unsigned slots_ = 0;
  Tensor states_[kernels::kMaxOptimStates];
};

// The part for spec.algorithm over `entries` (trainable parameters of `params`, in flat
// order). `whole`: the part has every trainable parameter, so element-wise state may be laid
// out like the parameters. Throws UsageError when the algorithm cannot update them (Muon on
// a parameter of rank < 2). `shard` (element-wise and `whole` only; the Optimizer checks):
// the step and the state cover only [shard.begin, shard.end) of the flat buffers.
std::unique_ptr<Part> make_part(const PartSpec& spec, FlatParameters& params, std::vector<const FlatEntry*> entries,
                                bool whole, FlatShard shard);

// Element-wise state layout of a part: one offset per parameter, either the parameter's own
// offset (`whole`) or packed 4-aligned in parameter order; `numel` is the buffer length.
struct PackedLayout {
  std::vector<int64_t> offsets;
  int64_t numel = 0;
};
PackedLayout packed_layout(const FlatParameters& params, const std::vector<const FlatEntry*>& entries, bool whole);

// The state slots an element-wise rule needs for `groups`, and the name of one.
unsigned rule_slots_needed(Algorithm algorithm, const std::vector<Hyperparameters>& groups);
const char* rule_state_name(Algorithm algorithm, int slot);

// The fused element-wise step of `part`'s float32 slots over `segments` (state_begin: where
// each segment's state lies in those slots).
kernels::FusedStepArgs fused_step_args(const Part& part, const SegmentTable& segments, const StepInputs& in);

}  // namespace ember::optim::detail
