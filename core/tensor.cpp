#include "core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/backend.h"
#include "core/ops.h"

namespace ember {

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= std::max<int64_t>(shape[d], 1);
  }
  return strides;
}

// --- metadata

#define EMBER_DEFINED_CHECK() EMBER_CHECK(impl_ != nullptr, "operation on an undefined tensor")

const Shape& Tensor::sizes() const { EMBER_DEFINED_CHECK(); return impl_->sizes_; }
const Shape& Tensor::strides() const { EMBER_DEFINED_CHECK(); return impl_->strides_; }
int Tensor::dim() const { return static_cast<int>(sizes().size()); }
int64_t Tensor::size(int d) const { return sizes()[normalize_dim(d, dim())]; }
int64_t Tensor::stride(int d) const { return strides()[normalize_dim(d, dim())]; }
int64_t Tensor::numel() const { return shape_numel(sizes()); }
int64_t Tensor::offset() const { EMBER_DEFINED_CHECK(); return impl_->offset_; }
DType Tensor::dtype() const { EMBER_DEFINED_CHECK(); return impl_->dtype_; }
Device Tensor::device() const { EMBER_DEFINED_CHECK(); return impl_->storage_->device(); }
TensorOptions Tensor::options() const { return TensorOptions().dtype(dtype()).device(device()); }
const std::shared_ptr<Storage>& Tensor::storage() const { EMBER_DEFINED_CHECK(); return impl_->storage_; }

bool Tensor::is_channels_last() const {
  if (dim() != 4) return false;
  static constexpr int kOrder[4] = {1, 3, 2, 0};  // innermost first: C, W, H, N
  int64_t expected = 1;
  for (int d : kOrder) {
    if (impl_->sizes_[d] == 1) continue;
    if (impl_->strides_[d] != expected) return false;
    expected *= impl_->sizes_[d];
  }
  return true;
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int d = dim() - 1; d >= 0; --d) {
    if (impl_->sizes_[d] == 1) continue;  // any stride is fine for a size-1 dim
    if (impl_->strides_[d] != expected) return false;
    expected *= impl_->sizes_[d];
  }
  return true;
}

void* Tensor::raw_data() const {
  EMBER_DEFINED_CHECK();
  return static_cast<char*>(impl_->storage_->data()) + impl_->offset_ * static_cast<int64_t>(dtype_size(impl_->dtype_));
}

template <class T>
T* Tensor::data() const {
  EMBER_CHECK(dtype() == DTypeOf<T>::value, "data<{}>() on a {} tensor", dtype_name(DTypeOf<T>::value),
              dtype_name(dtype()));
  return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int64_t* Tensor::data<int64_t>() const;
template int32_t* Tensor::data<int32_t>() const;
template uint8_t* Tensor::data<uint8_t>() const;
template bfloat16* Tensor::data<bfloat16>() const;

// --- autograd metadata

bool Tensor::requires_grad() const { return impl_ && impl_->autograd_.requires_grad; }

const Tensor& Tensor::set_requires_grad(bool requires_grad) const {
  EMBER_DEFINED_CHECK();
  EMBER_CHECK(!requires_grad || is_floating(dtype()), "only floating-point tensors can require grad (got {})",
              dtype_name(dtype()));
  EMBER_CHECK(is_leaf() || requires_grad, "cannot turn off requires_grad of a non-leaf tensor; use detach()");
  impl_->autograd_.requires_grad = requires_grad;
  return *this;
}

bool Tensor::is_leaf() const { return !impl_ || impl_->autograd_.grad_fn == nullptr; }
const Tensor& Tensor::grad() const { EMBER_DEFINED_CHECK(); return impl_->autograd_.grad; }

void Tensor::set_grad(const Tensor& grad) const {
  EMBER_DEFINED_CHECK();
  if (grad.defined()) {
    EMBER_CHECK(grad.sizes() == sizes(), "set_grad: gradient shape {} differs from tensor shape {}",
                shape_str(grad.sizes()), shape_str(sizes()));
    EMBER_CHECK(grad.device() == device() && grad.dtype() == dtype(),
                "set_grad: gradient is {} {}, tensor is {} {}", grad.device().str(), dtype_name(grad.dtype()),
                device().str(), dtype_name(dtype()));
  }
  impl_->autograd_.grad = grad;
}

int Tensor::add_post_accumulate_grad_hook(std::function<void()> hook) const {
  EMBER_DEFINED_CHECK();
  EMBER_CHECK(is_leaf() && requires_grad(), "post-accumulate hooks belong to leaves that require grad");
  AutogradMeta& meta = impl_->autograd_;
  const int id = meta.next_hook_id++;
  meta.post_accumulate_hooks.emplace_back(id, std::move(hook));
  return id;
}

void Tensor::remove_post_accumulate_grad_hook(int id) const {
  EMBER_DEFINED_CHECK();
  auto& hooks = impl_->autograd_.post_accumulate_hooks;
  for (auto it = hooks.begin(); it != hooks.end(); ++it)
    if (it->first == id) {
      hooks.erase(it);
      return;
    }
}

const std::shared_ptr<Node>& Tensor::grad_fn() const { EMBER_DEFINED_CHECK(); return impl_->autograd_.grad_fn; }

void Tensor::set_grad_fn(std::shared_ptr<Node> fn) const {
  EMBER_DEFINED_CHECK();
  impl_->autograd_.grad_fn = std::move(fn);
  if (impl_->autograd_.grad_fn) impl_->autograd_.requires_grad = true;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  EMBER_DEFINED_CHECK();
  EMBER_CHECK(requires_grad(), "backward() on a tensor that does not require grad and has no grad_fn");
  Tensor grad = gradient;
  if (!grad.defined()) {
    EMBER_CHECK(numel() == 1, "backward() on a non-scalar tensor of shape {} needs a gradient argument of that shape",
                shape_str(sizes()));
    grad = ones(sizes(), options());
  }
  EMBER_CHECK(grad.sizes() == sizes() && grad.dtype() == dtype() && grad.device() == device(),
              "backward(): the gradient is {} {} on {}, the tensor {} {} on {}", dtype_name(grad.dtype()),
              shape_str(grad.sizes()), grad.device().str(), dtype_name(dtype()), shape_str(sizes()), device().str());
  run_backward(*this, grad, retain_graph);
}

void Tensor::set_storage(std::shared_ptr<Storage> storage, int64_t offset) const {
  EMBER_DEFINED_CHECK();
  const int64_t end = (offset + numel()) * static_cast<int64_t>(dtype_size(dtype()));
  EMBER_CHECK(offset >= 0 && end <= static_cast<int64_t>(storage->nbytes()),
              "set_storage: elements [{}, {}) do not fit a storage of {} bytes", offset, offset + numel(),
              storage->nbytes());
  impl_->storage_ = std::move(storage);
  impl_->offset_ = offset;
  impl_->strides_ = contiguous_strides(impl_->sizes_);
}

void Tensor::set_data(const Tensor& source) const {
  EMBER_DEFINED_CHECK();
  EMBER_CHECK(source.defined() && source.sizes() == sizes(), "set_data: the new data has shape {}, the tensor {}",
              source.defined() ? shape_str(source.sizes()) : "undefined", shape_str(sizes()));
  EMBER_CHECK(!requires_grad() || is_floating(source.dtype()), "set_data: a tensor that requires grad cannot hold {}",
              dtype_name(source.dtype()));
  impl_->storage_ = source.storage();
  impl_->strides_ = source.strides();
  impl_->offset_ = source.offset();
  impl_->dtype_ = source.dtype();
}

Tensor Tensor::sum() const { return ember::sum(*this); }
Tensor Tensor::mean() const { return ember::mean(*this); }
Tensor Tensor::sum(const std::vector<int>& dims, bool keepdim) const { return ember::sum(*this, dims, keepdim); }
Tensor Tensor::mean(const std::vector<int>& dims, bool keepdim) const { return ember::mean(*this, dims, keepdim); }

// --- factories

Tensor make_view(const std::shared_ptr<Storage>& storage, DType dtype, const Shape& sizes, const Shape& strides,
                 int64_t offset) {
  return Tensor(std::make_shared<TensorImpl>(storage, dtype, sizes, strides, offset));
}

Tensor empty(const Shape& shape, TensorOptions options) {
  for (int64_t s : shape) EMBER_CHECK(s >= 0, "negative dimension in shape {}", shape_str(shape));
  check_device_usable(options.device());
  const size_t nbytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(options.dtype());
  auto storage = std::make_shared<Storage>(nbytes, allocator_for(options.device()));
  Tensor t = make_view(storage, options.dtype(), shape, contiguous_strides(shape), 0);
  if (options.requires_grad()) t.set_requires_grad(true);
  return t;
}

Tensor full(const Shape& shape, double value, TensorOptions options) {
  Tensor t = empty(shape, options.requires_grad(false));
  if (t.numel() > 0) backend_for(t.device()).fill(t, value);
  if (options.requires_grad()) t.set_requires_grad(true);
  return t;
}

Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }
Tensor empty_like(const Tensor& t) { return empty(t.sizes(), t.options()); }

bool is_nhwc(const Tensor& t) { return t.is_channels_last() && !t.is_contiguous(); }

Tensor empty_in_layout(const Shape& shape, TensorOptions options, bool nhwc) {
  return nhwc ? empty_channels_last(shape, options) : empty(shape, options);
}

Tensor empty_channels_last(const Shape& shape, TensorOptions options) {
  EMBER_CHECK(shape.size() == 4, "empty_channels_last: needs a 4-D shape [N, C, H, W], got {}", shape_str(shape));
  return empty({shape[0], shape[2], shape[3], shape[1]}, options).permute({0, 3, 1, 2});
}
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), t.options()); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), t.options()); }
Tensor scalar_tensor(double value, TensorOptions options) { return full({}, value, options); }

Tensor arange(int64_t end, TensorOptions options) { return arange(0.0, static_cast<double>(end), 1.0, options); }

Tensor arange(double start, double end, double step, TensorOptions options) {
  EMBER_CHECK(step != 0.0, "arange: step must be non-zero");
  const double count = std::ceil((end - start) / step);
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = empty({n}, options);
  if (n > 0) backend_for(t.device()).arange(t, start, step);
  return t;
}

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions options) {
  EMBER_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
              "from_vector: {} values cannot fill shape {}", values.size(), shape_str(shape));
  Tensor host = empty(shape, TensorOptions().dtype(DTypeOf<T>::value));
  if (!values.empty()) std::memcpy(host.raw_data(), values.data(), values.size() * sizeof(T));
  Tensor t = host.to(options.dtype()).to(options.device());
  if (options.requires_grad()) t.set_requires_grad(true);
  return t;
}
template Tensor from_vector(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<int64_t>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<int32_t>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<uint8_t>&, const Shape&, TensorOptions);

// --- host transfer

void copy_from_host(const Tensor& dst, const void* src, size_t nbytes) {
  EMBER_CHECK(dst.is_contiguous() && nbytes <= dst.nbytes(), "copy_from_host: {} bytes into a {} tensor of {} bytes",
              nbytes, dst.is_contiguous() ? "contiguous" : "non-contiguous", dst.nbytes());
  copy_bytes(dst.raw_data(), dst.device(), src, Device::cpu(), nbytes);
}

void copy_to_host(void* dst, const Tensor& src, size_t nbytes) {
  EMBER_CHECK(src.is_contiguous() && nbytes <= src.nbytes(), "copy_to_host: {} bytes from a {} tensor of {} bytes",
              nbytes, src.is_contiguous() ? "contiguous" : "non-contiguous", src.nbytes());
  copy_bytes(dst, Device::cpu(), src.raw_data(), src.device(), nbytes);
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = to(Device::cpu()).to(DTypeOf<T>::value).contiguous();
  std::vector<T> out(static_cast<size_t>(host.numel()));
  if (!out.empty()) std::memcpy(out.data(), host.raw_data(), out.size() * sizeof(T));
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;

double Tensor::item() const {
  EMBER_CHECK(numel() == 1, "item() needs exactly one element, tensor has shape {}", shape_str(sizes()));
  return to_vector<double>()[0];
}

// --- printing

namespace {

void print_values(std::ostream& os, const std::vector<double>& v, const Shape& shape, size_t dim, size_t& pos,
                  int indent, bool floating) {
  constexpr int64_t kEdge = 3;  // elements shown at each end of a long dim
  if (shape.empty()) {
    if (floating) os << std::setprecision(6) << v[pos++];
    else os << static_cast<int64_t>(v[pos++]);
    return;
  }
  const int64_t n = shape[dim];
  int64_t inner = 1;
  for (size_t d = dim + 1; d < shape.size(); ++d) inner *= shape[d];
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (i > 0) {
      os << ",";
      if (dim + 1 < shape.size()) os << "\n" << std::string(static_cast<size_t>(indent + 1), ' ');
      else os << " ";
    }
    if (n > 2 * kEdge + 1 && i == kEdge) {
      os << "...";
      pos += static_cast<size_t>((n - 2 * kEdge) * inner);
      i = n - kEdge - 1;
      continue;
    }
    if (dim + 1 == shape.size()) {
      if (floating) os << std::setprecision(6) << v[pos++];
      else os << static_cast<int64_t>(v[pos++]);
    } else {
      print_values(os, v, shape, dim + 1, pos, indent + 1, floating);
    }
  }
  os << "]";
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  std::vector<double> values = t.numel() > 0 ? t.detach().to_vector<double>() : std::vector<double>{};
  os << "tensor(";
  size_t pos = 0;
  if (t.numel() == 0) os << "[]";
  else {
    print_values(os, values, t.sizes(), 0, pos, 7, is_floating(t.dtype()));
  }
  os << ", shape=" << shape_str(t.sizes()) << ", dtype=" << dtype_name(t.dtype());
  if (!t.device().is_cpu()) os << ", device=" << t.device().str();
  if (t.requires_grad()) os << (t.grad_fn() ? std::string(", grad_fn=") + t.grad_fn()->name() : ", requires_grad");
  return os << ")";
}

std::string to_string(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

}  // namespace ember
