// Tensor: a handle to Storage + sizes/strides/offset/dtype, with autograd metadata.
//
// Copying a Tensor copies the handle (like torch.Tensor in Python): both refer to the same
// TensorImpl. Views (view, reshape of contiguous data, permute, transpose, slice, expand)
// make a new TensorImpl that shares the Storage. Outputs of ops are always contiguous.
// Because a Tensor is a handle, in-place methods (fill_, copy_, set_grad, ...) are const, as
// in PyTorch's C++ API: writing through a `const Tensor&` changes the tensor it refers to, not
// the handle.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/storage.h"

namespace ember {

using Shape = std::vector<int64_t>;
struct Node;
struct Edge;
class TensorImpl;

std::string shape_str(const Shape& shape);  // "[2, 3]"
int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);

class TensorOptions {
 public:
  TensorOptions() = default;
  TensorOptions(DType dtype) : dtype_(dtype) {}    // NOLINT: implicit on purpose
  TensorOptions(Device device) : device_(device) {}  // NOLINT: implicit on purpose
  TensorOptions dtype(DType d) const { auto o = *this; o.dtype_ = d; return o; }
  TensorOptions device(Device d) const { auto o = *this; o.device_ = d; return o; }
  TensorOptions requires_grad(bool r) const { auto o = *this; o.requires_grad_ = r; return o; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool requires_grad() const { return requires_grad_; }

 private:
  DType dtype_ = DType::Float32;
  Device device_ = Device::cpu();
  bool requires_grad_ = false;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& shared_impl() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

  // --- metadata
  const Shape& sizes() const;
  const Shape& strides() const;
  int64_t size(int dim) const;    // negative dims count from the end
  int64_t stride(int dim) const;
  int dim() const;
  int64_t numel() const;
  int64_t offset() const;         // in elements, into storage
  DType dtype() const;
  Device device() const;
  TensorOptions options() const;  // dtype + device (no requires_grad)
  bool is_contiguous() const;
  // 4-D and dense in NHWC order: strides (H*W*C, 1, W*C, C), size-1 dims ignored (Note
  // [channels_last] in core/ops/view_ops.cpp).
  bool is_channels_last() const;
  const std::shared_ptr<Storage>& storage() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }

  // Pointer to the first element (storage + offset). Checks T against dtype().
  template <class T> T* data() const;
  void* raw_data() const;

  // --- views (share storage; differentiable)
  Tensor view(const Shape& shape) const;     // one dim may be -1; needs compatible strides
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a copy
  Tensor flatten(int start_dim = 0, int end_dim = -1) const;
  Tensor permute(const std::vector<int>& dims) const;
  Tensor transpose(int dim0, int dim1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor slice(int dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int dim, int64_t index) const;  // slice + drop the dim
  Tensor unsqueeze(int dim) const;
  Tensor squeeze(int dim) const;
  Tensor expand(const Shape& shape) const;      // broadcast view: stride 0 on expanded dims

  // --- copies
  Tensor contiguous() const;  // self if already contiguous
  Tensor clone() const;       // always a new contiguous copy (differentiable)
  Tensor to_channels_last() const;  // self if already channels_last, else an NHWC copy (differentiable)
  Tensor to(Device device) const;  // self if already there (differentiable)
  // Self if already that type; keeps channels_last; differentiable between floating types.
  Tensor to(DType dtype) const;
  Tensor detach() const;      // shares storage, no autograd history

  // --- in-place (never recorded by autograd; refused on tensors that need grad in grad mode)
  const Tensor& fill_(double value) const;
  const Tensor& zero_() const { return fill_(0.0); }
  const Tensor& copy_(const Tensor& src) const;  // broadcasts src, converts dtype, crosses devices
  const Tensor& add_(const Tensor& other, double alpha = 1.0) const;
  const Tensor& mul_(double value) const;

  // --- values
  double item() const;  // one element, any dtype, synchronises with the device
  template <class T> T item() const { return static_cast<T>(item()); }
  template <class T> std::vector<T> to_vector() const;  // row-major copy to the host

  // --- autograd
  bool requires_grad() const;
  const Tensor& set_requires_grad(bool requires_grad) const;
  bool is_leaf() const;  // no grad_fn
  const Tensor& grad() const;  // undefined until a backward reaches it
  // Undefined clears it; else shape, dtype and device must be this tensor's.
  void set_grad(const Tensor& grad) const;
  // For a leaf: `hook` runs each time backward has accumulated this tensor's gradient (once per
  // backward: the engine sums every use first), like PyTorch's
  // register_post_accumulate_grad_hook. Data-parallel training starts a bucket's all-reduce
  // from it (optim/grad_buckets.h). Returns an id for remove_post_accumulate_grad_hook.
  int add_post_accumulate_grad_hook(std::function<void()> hook) const;
  void remove_post_accumulate_grad_hook(int id) const;
  const std::shared_ptr<Node>& grad_fn() const;
  void set_grad_fn(std::shared_ptr<Node> fn) const;
  // Backpropagates from this tensor. A non-scalar needs `gradient` of the same shape.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;

  // Re-homes this tensor's data into `storage` at `offset` keeping sizes (contiguous
  // strides). Used by flat parameter buffers; the caller copies the values.
  void set_storage(std::shared_ptr<Storage> storage, int64_t offset) const;
  // Makes this tensor refer to `source`'s data (storage, offset, strides, dtype; the sizes
  // must match) while staying the same tensor: every handle, its requires_grad and its grad
  // stay (like PyTorch's `t.data = source`). How a module moves its parameters to another
  // device or dtype (Note [stable parameter tensors] in nn/module.h); the grad, if any, must
  // then be converted too (set_grad checks it).
  void set_data(const Tensor& source) const;

  // --- convenience forwarding to the free functions in core/ops.h
  Tensor sum() const;
  Tensor mean() const;
  Tensor sum(const std::vector<int>& dims, bool keepdim = false) const;
  Tensor mean(const std::vector<int>& dims, bool keepdim = false) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  std::weak_ptr<Node> grad_accumulator;  // shared by every use of this leaf in one graph
  std::vector<std::pair<int, std::function<void()>>> post_accumulate_hooks;  // (id, hook)
  int next_hook_id = 0;
};

// What a Tensor handle refers to. Read-only from outside: every change goes through Tensor's
// checked methods (set_grad, set_storage, set_data, ...); make_view creates one.
class TensorImpl {
 public:
  TensorImpl(std::shared_ptr<Storage> storage, DType dtype, Shape sizes, Shape strides, int64_t offset)
      : storage_(std::move(storage)), sizes_(std::move(sizes)), strides_(std::move(strides)), offset_(offset),
        dtype_(dtype) {}
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  const Shape& sizes() const { return sizes_; }
  const Shape& strides() const { return strides_; }
  int64_t offset() const { return offset_; }  // in elements
  DType dtype() const { return dtype_; }

 private:
  friend class Tensor;
  friend Edge gradient_edge(const Tensor& input);  // creates a leaf's shared AccumulateGrad
  friend struct AccumulateGrad;                     // runs the post-accumulate hooks
  std::shared_ptr<Storage> storage_;
  Shape sizes_;
  Shape strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::Float32;
  AutogradMeta autograd_;
};

// --- factories
Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor empty_like(const Tensor& t);
// A 4-D [N, C, H, W] tensor stored NHWC (channels_last).
Tensor empty_channels_last(const Shape& shape, TensorOptions options = {});
// Stored NHWC and not also NCHW: a tensor that is both (C == 1 or H == W == 1) counts as
// NCHW, the two layouts coincide (Note [channels_last] in core/ops/view_ops.cpp).
bool is_nhwc(const Tensor& t);
// empty_channels_last when `nhwc`, else empty.
Tensor empty_in_layout(const Shape& shape, TensorOptions options, bool nhwc);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor arange(int64_t end, TensorOptions options = DType::Int64);
Tensor arange(double start, double end, double step, TensorOptions options = DType::Int64);
Tensor scalar_tensor(double value, TensorOptions options = {});
// A tensor holding a copy of `values` with `shape` (numel must match).
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions options = DTypeOf<T>::value);
// A view over existing storage (no copy).
Tensor make_view(const std::shared_ptr<Storage>& storage, DType dtype, const Shape& sizes,
                 const Shape& strides, int64_t offset);

std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::string to_string(const Tensor& t);

// Copies host bytes in/out of a tensor's storage (any device), `nbytes` from element 0 of a
// contiguous tensor. Synchronous.
void copy_from_host(const Tensor& dst, const void* src, size_t nbytes);
void copy_to_host(void* dst, const Tensor& src, size_t nbytes);

}  // namespace ember
