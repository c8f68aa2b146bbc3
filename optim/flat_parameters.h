// FlatParameters: a model's parameters re-homed into one contiguous fp32 buffer, their
// gradients into a second one of the same layout (DESIGN decision 2).
//
// Construction copies every parameter's values into the flat value buffer and makes the
// parameter itself (the same TensorImpl the model holds) a view into it; every trainable
// parameter's .grad becomes a view into the flat gradient buffer, so autograd accumulates
// straight into it and zero_grad() is one fill of one buffer.
//
// Layout (Note [flat buffer alignment] in kernels/optim_flat.h): parameters are ordered by
// parameter group (stable, so model order within a group), each starting at a multiple of 4
// elements; padding is zero. A segment is a run of trainable parameters of one group that
// follow each other without a gap; frozen parameters (requires_grad false) stay in the
// buffer but outside every segment, so no optimiser step ever touches them. Optimiser state
// (optim/optimizer.h) uses the same layout.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "kernels/optim_flat.h"
#include "optim/segments.h"

namespace ember::optim {

using NamedParameters = std::vector<std::pair<std::string, Tensor>>;
// Parameter group of a parameter, from its name: 0 .. kMaxOptimGroups - 1.
using GroupFn = std::function<int(const std::string& name)>;
// Group k + 1 for names starting with prefixes[k] (the first match), group 0 otherwise:
// group_by_prefix({"fc."}) puts the classifier in group 1 and the backbone in group 0.
GroupFn group_by_prefix(std::vector<std::string> prefixes);

// A contiguous view of shape_numel(shape) elements at `offset` of a flat buffer, shaped `shape`.
Tensor flat_view(const Tensor& flat, int64_t offset, const Shape& shape);

struct FlatEntry {
  std::string name;
  Tensor param;        // the parameter, now a view into values()
  int64_t offset = 0;  // first element in the flat buffers (a multiple of 4)
  int64_t numel = 0;
  int group = 0;
  bool trainable = true;
  int64_t order = 0;  // position in the list the model gave (the layout sorts by group)
};

class FlatParameters {
 public:
  // `named` parameters must be defined, distinct float32 tensors with distinct names; they
  // may live on any device and move to `device`. Existing gradients are copied over.
  FlatParameters(const NamedParameters& named, Device device, const GroupFn& group_of = {});
  FlatParameters(const FlatParameters&) = delete;
  FlatParameters& operator=(const FlatParameters&) = delete;

  Device device() const { return device_; }
  int num_groups() const { return num_groups_; }
  const std::vector<FlatEntry>& entries() const { return entries_; }
  const FlatEntry& entry(const std::string& name) const;  // throws for an unknown name
  // The segments of every trainable parameter (optim/segments.h); state offsets equal
  // parameter offsets. segment_table() is the same on device(), as the step kernel reads it.
  const std::vector<kernels::OptimSegment>& segments() const { return segments_.segments; }
  const Tensor& segment_table() const { return segments_.table; }
  int64_t num_granules() const { return segments_.num_granules; }

  // Flat [padded_numel()] float32 buffers on device(); autograd does not track them.
  const Tensor& values() const { return values_; }
  const Tensor& grads() const { return grads_; }
  int64_t padded_numel() const { return values_.numel(); }
  int64_t trainable_numel() const { return trainable_numel_; }
  int64_t frozen_numel() const { return frozen_numel_; }

  // Zeroes every gradient: one fill of the flat gradient buffer.
  void zero_grad();

  // The global L2 norm of all gradients, as a float32 scalar tensor on device(), by one
  // fused reduction over the flat gradient buffer (deterministic; no host synchronisation).
  Tensor grad_norm();
  // torch.nn.utils.clip_grad_norm_(max_norm): scales every gradient by
  // min(1, max_norm / (norm + 1e-6)) in place and returns the norm before clipping. On CUDA
  // the scale is read on the device: nothing waits for the norm.
  Tensor clip_grad_norm(double max_norm);

 private:
  Device device_;
  int num_groups_ = 1;
  std::vector<FlatEntry> entries_;
  SegmentTable segments_;
  Tensor values_, grads_;
  int64_t trainable_numel_ = 0, frozen_numel_ = 0;
  Tensor norm_workspace_;  // CUDA: partial sums and completion counter of grad_norm
};

}  // namespace ember::optim
