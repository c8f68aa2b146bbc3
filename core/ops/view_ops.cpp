// Views (share storage, differentiable) and copies of tensors.
#include <algorithm>
#include <numeric>

#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/backend.h"
#include "core/ops.h"

namespace ember {

namespace {

Tensor alias_with(const Tensor& t, const Shape& sizes, const Shape& strides, int64_t offset) {
  return make_view(t.storage(), t.dtype(), sizes, strides, offset);
}

struct ReshapeBackward final : Node {
  Shape input_sizes;
  std::vector<Tensor> apply(const Tensor& grad) override { return {grad.reshape(input_sizes)}; }
  const char* name() const override { return "ReshapeBackward"; }
};

struct PermuteBackward final : Node {
  std::vector<int> inverse;
  std::vector<Tensor> apply(const Tensor& grad) override { return {grad.permute(inverse)}; }
  const char* name() const override { return "PermuteBackward"; }
};

struct SliceBackward final : Node {
  Shape input_sizes;
  int dim;
  int64_t start, end, step;
  std::vector<Tensor> apply(const Tensor& grad) override {
    Tensor g = zeros(input_sizes, grad.options());
    g.slice(dim, start, end, step).copy_(grad);
    return {g};
  }
  const char* name() const override { return "SliceBackward"; }
};

struct ExpandBackward final : Node {
  Shape input_sizes;
  std::vector<Tensor> apply(const Tensor& grad) override { return {sum_to(grad, input_sizes)}; }
  const char* name() const override { return "ExpandBackward"; }
};

struct IdentityBackward final : Node {  // clone, contiguous
  std::vector<Tensor> apply(const Tensor& grad) override { return {grad}; }
  const char* name() const override { return "CloneBackward"; }
};

struct ToDeviceBackward final : Node {
  Device input_device;
  std::vector<Tensor> apply(const Tensor& grad) override { return {grad.to(input_device)}; }
  const char* name() const override { return "ToDeviceBackward"; }
};

// A cast between floating dtypes (e.g. float32 weights to bfloat16 for a mixed-precision
// layer): the gradient goes back in the input's dtype.
struct ToDTypeBackward final : Node {
  DType input_dtype = DType::Float32;
  std::vector<Tensor> apply(const Tensor& grad) override { return {grad.to(input_dtype)}; }
  const char* name() const override { return "ToDTypeBackward"; }
};

template <class NodeT>
Tensor record(const Tensor& input, Tensor output, std::shared_ptr<NodeT> node) {
  if (any_requires_grad({&input})) attach_node(node, {&input}, output);
  return output;
}

Shape infer_shape(const Shape& shape, int64_t numel, const Shape& from) {
  Shape out = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == -1) {
      EMBER_CHECK(infer < 0, "view {}: only one dimension can be -1", shape_str(shape));
      infer = static_cast<int>(d);
    } else {
      EMBER_CHECK(out[d] >= 0, "view {}: invalid dimension {}", shape_str(shape), out[d]);
      known *= out[d];
    }
  }
  if (infer >= 0) {
    EMBER_CHECK(known != 0 && numel % known == 0, "shape {} is invalid for input of shape {}", shape_str(shape),
                shape_str(from));
    out[infer] = numel / known;
  }
  EMBER_CHECK(shape_numel(out) == numel, "shape {} is invalid for input of shape {} ({} elements)", shape_str(shape),
              shape_str(from), numel);
  return out;
}

}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  Shape sizes_out = infer_shape(shape, numel(), sizes());
  EMBER_CHECK(is_contiguous(), "view {} of a non-contiguous tensor (shape {}, strides {}); use reshape()",
              shape_str(shape), shape_str(sizes()), shape_str(strides()));
  auto node = std::make_shared<ReshapeBackward>();
  node->input_sizes = sizes();
  return record(*this, alias_with(*this, sizes_out, contiguous_strides(sizes_out), offset()), node);
}

Tensor Tensor::reshape(const Shape& shape) const {
  return is_contiguous() ? view(shape) : contiguous().view(shape);
}

Tensor Tensor::flatten(int start_dim, int end_dim) const {
  if (dim() == 0) return reshape({1});
  start_dim = normalize_dim(start_dim, dim());
  end_dim = normalize_dim(end_dim, dim());
  EMBER_CHECK(start_dim <= end_dim, "flatten: start_dim {} after end_dim {}", start_dim, end_dim);
  Shape out(sizes().begin(), sizes().begin() + start_dim);
  int64_t merged = 1;
  for (int d = start_dim; d <= end_dim; ++d) merged *= sizes()[d];
  out.push_back(merged);
  out.insert(out.end(), sizes().begin() + end_dim + 1, sizes().end());
  return reshape(out);
}

Tensor Tensor::permute(const std::vector<int>& dims) const {
  EMBER_CHECK(static_cast<int>(dims.size()) == dim(), "permute: {} dims given for a tensor of {} dims", dims.size(),
              dim());
  std::vector<int> order(dims.size());
  std::vector<bool> seen(dims.size(), false);
  Shape s(dims.size()), st(dims.size());
  std::vector<int> inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    int d = normalize_dim(dims[i], dim());
    EMBER_CHECK(!seen[d], "permute: dim {} repeated", d);
    seen[d] = true;
    s[i] = sizes()[d];
    st[i] = strides()[d];
    inverse[d] = static_cast<int>(i);
  }
  auto node = std::make_shared<PermuteBackward>();
  node->inverse = inverse;
  return record(*this, alias_with(*this, s, st, offset()), node);
}

Tensor Tensor::transpose(int dim0, int dim1) const {
  std::vector<int> order(dim());
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[normalize_dim(dim0, dim())], order[normalize_dim(dim1, dim())]);
  return permute(order);
}

Tensor Tensor::slice(int d, int64_t start, int64_t end, int64_t step) const {
  d = normalize_dim(d, dim());
  EMBER_CHECK(step > 0, "slice: step must be positive, got {}", step);
  const int64_t n = sizes()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = sizes(), st = strides();
  s[d] = (end - start + step - 1) / step;
  st[d] = strides()[d] * step;
  auto node = std::make_shared<SliceBackward>();
  node->input_sizes = sizes();
  node->dim = d;
  node->start = start;
  node->end = end;
  node->step = step;
  return record(*this, alias_with(*this, s, st, offset() + start * strides()[d]), node);
}

Tensor Tensor::select(int d, int64_t index) const {
  d = normalize_dim(d, dim());
  const int64_t n = sizes()[d];
  EMBER_CHECK(index >= -n && index < n, "select: index {} out of range for dim {} of size {}", index, d, n);
  if (index < 0) index += n;
  return slice(d, index, index + 1).squeeze(d);
}

Tensor Tensor::unsqueeze(int d) const {
  d = normalize_dim(d, dim() + 1);
  Shape s = sizes(), st = strides();
  const int64_t stride = d < dim() ? strides()[d] * sizes()[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  auto node = std::make_shared<ReshapeBackward>();
  node->input_sizes = sizes();
  return record(*this, alias_with(*this, s, st, offset()), node);
}

Tensor Tensor::squeeze(int d) const {
  d = normalize_dim(d, dim());
  if (sizes()[d] != 1) return *this;
  Shape s = sizes(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  auto node = std::make_shared<ReshapeBackward>();
  node->input_sizes = sizes();
  return record(*this, alias_with(*this, s, st, offset()), node);
}

Tensor Tensor::expand(const Shape& shape) const {
  EMBER_CHECK(shape.size() >= sizes().size(), "expand: shape {} has fewer dims than tensor shape {}",
              shape_str(shape), shape_str(sizes()));
  const size_t lead = shape.size() - sizes().size();
  Shape st(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) continue;  // new leading dims: stride 0
    const int64_t have = sizes()[i - lead];
    if (have == shape[i]) st[i] = strides()[i - lead];
    else EMBER_CHECK(have == 1, "expand: cannot expand shape {} to {}", shape_str(sizes()), shape_str(shape));
  }
  if (shape == sizes()) return *this;
  auto node = std::make_shared<ExpandBackward>();
  node->input_sizes = sizes();
  return record(*this, alias_with(*this, shape, st, offset()), node);
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::clone() const {
  Tensor out = empty(sizes(), options());
  if (numel() > 0) backend_for(device()).copy(out, *this);
  return record(*this, out, std::make_shared<IdentityBackward>());
}

// Note [channels_last]
// A 4-D activation may be stored NHWC (channels_last: strides (H*W*C, 1, W*C, C)) while its
// shape stays [N, C, H, W], as in PyTorch: cuDNN's tensor-core convolutions want NHWC, and
// converting at every layer would cost more than they gain. Elementwise ops give an NHWC
// output when their full-shape operands are NHWC (core/ops/elementwise.cpp), to(dtype) keeps
// it, and the CUDA layers read and write it (nn/); everything else sees just a strided
// tensor, and contiguous() still means NCHW.
Tensor Tensor::to_channels_last() const {
  if (is_channels_last()) return *this;
  Tensor out = empty_channels_last(sizes(), options());
  if (numel() > 0) backend_for(device()).copy(out, *this);
  return record(*this, out, std::make_shared<IdentityBackward>());
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor src = detach().contiguous();
  Tensor out = empty(sizes(), options().device(target));
  if (numel() > 0) copy_bytes(out.raw_data(), target, src.raw_data(), device(), nbytes());
  auto node = std::make_shared<ToDeviceBackward>();
  node->input_device = device();
  return record(*this, out, node);
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = empty_in_layout(sizes(), options().dtype(target), is_nhwc(*this));
  if (numel() > 0) backend_for(device()).copy(out, *this);
  if (!is_floating(target)) return out;  // integers carry no gradient
  auto node = std::make_shared<ToDTypeBackward>();
  node->input_dtype = dtype();
  return record(*this, out, node);
}

Tensor Tensor::detach() const {
  Tensor out = alias_with(*this, sizes(), strides(), offset());
  return out;
}

// --- in-place

namespace {
void check_inplace(const Tensor& t, const char* op) {
  EMBER_CHECK(!(grad_mode_enabled() && t.requires_grad()),
              "{} on a tensor that requires grad: autograd does not record in-place ops (use NoGradGuard)", op);
}
}  // namespace

const Tensor& Tensor::fill_(double value) const {
  check_inplace(*this, "fill_");
  if (numel() > 0) backend_for(device()).fill(*this, value);
  return *this;
}

const Tensor& Tensor::copy_(const Tensor& src) const {
  check_inplace(*this, "copy_");
  EMBER_CHECK(src.defined(), "copy_ from an undefined tensor");
  if (numel() == 0) return *this;
  Tensor s = src.detach().expand(sizes());
  if (s.device() != device()) {
    // Convert and lay out on the source device, cross with one byte copy, then scatter.
    Tensor staged = s.to(dtype()).contiguous().to(device());
    s = staged;
  }
  backend_for(device()).copy(*this, s);
  return *this;
}

const Tensor& Tensor::add_(const Tensor& other, double alpha) const {
  check_inplace(*this, "add_");
  check_same_device(*this, other, "add_");
  check_same_dtype(*this, other, "add_");
  if (numel() == 0) return *this;
  Tensor o = other.detach().expand(sizes());
  backend_for(device()).binary(BinaryOp::Add, *this, *this, o, alpha);
  return *this;
}

const Tensor& Tensor::mul_(double value) const {
  check_inplace(*this, "mul_");
  if (numel() == 0) return *this;
  backend_for(device()).unary(UnaryOp::MulScalar, *this, *this, value);
  return *this;
}

}  // namespace ember
