#include "optim/flat_parameters.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "optim/step_executors.h"

namespace ember::optim {

namespace {

int64_t align4(int64_t n) { return (n + 3) / 4 * 4; }

}  // namespace

Tensor flat_view(const Tensor& flat, int64_t offset, const Shape& shape) {
  return make_view(flat.storage(), flat.dtype(), shape, contiguous_strides(shape), offset);
}

GroupFn group_by_prefix(std::vector<std::string> prefixes) {
  return [prefixes = std::move(prefixes)](const std::string& name) {
    for (size_t k = 0; k < prefixes.size(); ++k)
      if (name.compare(0, prefixes[k].size(), prefixes[k]) == 0) return static_cast<int>(k) + 1;
    return 0;
  };
}

FlatParameters::FlatParameters(const NamedParameters& named, Device device, const GroupFn& group_of) : device_(device) {
  check_device_usable(device);
  NoGradGuard no_grad;

  // Validate and assign groups.
  std::set<std::string> names;
  std::set<const TensorImpl*> impls;
  std::unordered_map<const TensorImpl*, std::string> name_of;
  num_groups_ = 1;
  for (const auto& [name, param] : named) {
    EMBER_CHECK(param.defined(), "FlatParameters: parameter '{}' is undefined", name);
    EMBER_CHECK(param.dtype() == DType::Float32, "FlatParameters: parameter '{}' is {}; flat buffers hold float32",
                name, dtype_name(param.dtype()));
    EMBER_CHECK(names.insert(name).second, "FlatParameters: two parameters are named '{}'", name);
    EMBER_CHECK(impls.insert(param.impl()).second, "FlatParameters: '{}' is the same tensor as '{}' (shared weights)",
                name, name_of[param.impl()]);
    name_of[param.impl()] = name;
    FlatEntry e;
    e.name = name;
    e.order = static_cast<int64_t>(entries_.size());
    e.param = param;
    e.numel = param.numel();
    e.trainable = param.requires_grad();
    e.group = group_of ? group_of(name) : 0;
    EMBER_CHECK(e.group >= 0 && e.group < kernels::kMaxOptimGroups,
                "FlatParameters: group {} of parameter '{}' is outside 0..{}", e.group, name,
                kernels::kMaxOptimGroups - 1);
    if (e.trainable) num_groups_ = std::max(num_groups_, e.group + 1);
    entries_.push_back(std::move(e));
  }

  // Layout: by group, model order within a group; each parameter 4-aligned.
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const FlatEntry& a, const FlatEntry& b) { return a.group < b.group; });
  int64_t cursor = 0;
  std::vector<SegmentSource> trainable;
  for (FlatEntry& e : entries_) {
    e.offset = align4(cursor);
    cursor = e.offset + e.numel;
    if (e.trainable) {
      trainable_numel_ += e.numel;
      trainable.push_back({e.offset, e.numel, e.offset, e.group});
    } else {
      frozen_numel_ += e.numel;
    }
  }
  segments_ = make_segment_table(trainable, device);

  // Buffers: zero padding, then every parameter's values and gradient.
  const int64_t padded = align4(cursor);
  values_ = zeros({padded}, TensorOptions().device(device));
  grads_ = zeros({padded}, TensorOptions().device(device));
  for (FlatEntry& e : entries_) {
    const Shape shape = e.param.sizes();
    if (e.numel > 0) flat_view(values_, e.offset, shape).copy_(e.param.detach());
    const Tensor old_grad = e.param.grad();
    e.param.set_grad(Tensor());
    e.param.set_storage(values_.storage(), e.offset);
    if (!e.trainable) continue;
    Tensor grad = flat_view(grads_, e.offset, shape);
    if (old_grad.defined() && e.numel > 0) grad.copy_(old_grad.detach());
    e.param.set_grad(grad);
  }

}

const FlatEntry& FlatParameters::entry(const std::string& name) const {
  for (const FlatEntry& e : entries_)
    if (e.name == name) return e;
  EMBER_FAIL("FlatParameters: no parameter named '{}'", name);
}

void FlatParameters::zero_grad() {
  NoGradGuard no_grad;
  grads_.zero_();
}

Tensor FlatParameters::grad_norm() {
  Tensor norm = empty({}, TensorOptions().device(device_));
  if (device_.is_cpu()) {
    *norm.data<float>() = detail::cpu_grad_norm(grads_.data<float>(), grads_.numel());
    return norm;
  }
  if (!norm_workspace_.defined())
    norm_workspace_ =
        zeros({(detail::cuda_grad_norm_workspace_bytes() + 7) / 8}, TensorOptions(DType::Float64).device(device_));
  detail::cuda_grad_norm(grads_.data<float>(), grads_.numel(), norm.data<float>(), norm_workspace_.raw_data());
  return norm;
}

Tensor FlatParameters::clip_grad_norm(double max_norm) {
  EMBER_CHECK(max_norm > 0 && !std::isnan(max_norm), "clip_grad_norm: max_norm must be > 0, got {}", max_norm);
  Tensor norm = grad_norm();
  if (std::isinf(max_norm)) return norm;  // the scale would be exactly 1
  const float max_f = static_cast<float>(max_norm);
  if (device_.is_cpu())
    detail::cpu_clip_by_norm(grads_.data<float>(), grads_.numel(), *norm.data<float>(), max_f);
  else
    detail::cuda_clip_by_norm(grads_.data<float>(), grads_.numel(), norm.data<float>(), max_f);
  return norm;
}

}  // namespace ember::optim
