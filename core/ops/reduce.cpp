// Reductions: sum, mean, max (with indices), argmax, sum_to.
//
// Every reduction is brought to the backend's one form: a contiguous input seen as
// [outer, n, inner] reduced over n. Reduced dims that form one run of a contiguous tensor
// need no copy (sum over dim 0 of [N, C] is outer=1, n=N, inner=C); otherwise the reduced
// dims are permuted to the end and the input is made contiguous first.
#include <algorithm>
#include <numeric>

#include "core/autograd/node.h"
#include "core/backend.h"
#include "core/ops.h"

namespace ember {

namespace {

struct ReducePlan {
  Tensor input;  // contiguous
  int64_t outer = 1, n = 1, inner = 1;
  Shape kept_shape;  // output shape without keepdim
  Shape keep_shape;  // output shape with keepdim (1 on reduced dims)
};

std::vector<bool> reduced_mask(const Tensor& a, const std::vector<int>& dims) {
  std::vector<bool> mask(a.dim(), dims.empty());
  for (int d : dims) {
    const int nd = normalize_dim(d, a.dim());
    if (a.dim() > 0) {
      EMBER_CHECK(!mask[nd], "reduction: dim {} given twice", nd);
      mask[nd] = true;
    }
  }
  return mask;
}

ReducePlan plan_reduction(const Tensor& a, const std::vector<bool>& mask) {
  ReducePlan plan;
  const int nd = a.dim();
  int first = -1, last = -1;
  for (int d = 0; d < nd; ++d) {
    if (mask[d]) {
      if (first < 0) first = d;
      last = d;
      plan.keep_shape.push_back(1);
    } else {
      plan.kept_shape.push_back(a.size(d));
      plan.keep_shape.push_back(a.size(d));
    }
  }
  bool one_run = true;
  for (int d = first; d >= 0 && d <= last; ++d) one_run = one_run && mask[d];
  if (first < 0) {  // nothing reduced (0-d tensor): n = 1
    plan.input = a.contiguous();
    plan.outer = a.numel();
    return plan;
  }
  if (one_run && a.is_contiguous()) {
    plan.input = a;
    for (int d = 0; d < first; ++d) plan.outer *= a.size(d);
    for (int d = first; d <= last; ++d) plan.n *= a.size(d);
    for (int d = last + 1; d < nd; ++d) plan.inner *= a.size(d);
    return plan;
  }
  std::vector<int> order;
  for (int d = 0; d < nd; ++d)
    if (!mask[d]) order.push_back(d);
  for (int d = 0; d < nd; ++d)
    if (mask[d]) {
      order.push_back(d);
      plan.n *= a.size(d);
    }
  plan.input = a.permute(order).contiguous();
  plan.outer = shape_numel(plan.kept_shape);
  return plan;
}

Tensor sum_forward(const Tensor& a, const ReducePlan& plan, bool keepdim) {
  const DType out_dtype = is_floating(a.dtype()) ? a.dtype() : DType::Int64;
  Tensor out = empty(keepdim ? plan.keep_shape : plan.kept_shape, a.options().dtype(out_dtype));
  if (out.numel() == 0) return out;
  if (plan.n == 0) return out.fill_(0.0);
  Tensor input = plan.input.to(out_dtype);
  backend_for(a.device()).reduce(ReduceOp::Sum, out, Tensor(), input, plan.outer, plan.n, plan.inner);
  return out;
}

struct SumBackward final : Node {
  Shape input_sizes, keep_shape;
  double scale = 1.0;  // 1/n for mean
  std::vector<Tensor> apply(const Tensor& g) override {
    Tensor grad = g.reshape(keep_shape).expand(input_sizes);
    return {scale == 1.0 ? grad.contiguous() : grad * scale};
  }
  const char* name() const override { return "SumBackward"; }
};

Tensor reduce_sum(const Tensor& a, const std::vector<int>& dims, bool keepdim, bool is_mean) {
  EMBER_CHECK(a.defined(), "sum: undefined tensor");
  ReducePlan plan = plan_reduction(a.detach(), reduced_mask(a, dims));
  Tensor out = sum_forward(a, plan, keepdim);
  double scale = 1.0;
  if (is_mean) {
    EMBER_CHECK(is_floating(a.dtype()), "mean needs a floating-point tensor, got {}", dtype_name(a.dtype()));
    scale = 1.0 / static_cast<double>(plan.n);  // n = 0 gives NaN, as in torch
    if (out.numel() > 0) backend_for(out.device()).unary(UnaryOp::MulScalar, out, out, scale);
  }
  if (any_requires_grad({&a})) {
    auto node = std::make_shared<SumBackward>();
    node->input_sizes = a.sizes();
    node->keep_shape = plan.keep_shape;
    node->scale = scale;
    attach_node(node, {&a}, out);
  }
  return out;
}

struct MaxBackward final : Node {
  Shape input_sizes;
  int dim;
  Tensor indices;  // keepdim shape
  std::vector<Tensor> apply(const Tensor& g) override {
    check_not_released();
    // Scatter g to the argmax positions through a one-hot mask along `dim`.
    const int64_t n = input_sizes[dim];
    Shape positions_shape(input_sizes.size(), 1);
    positions_shape[dim] = n;
    Tensor positions = arange(n, indices.options()).reshape(positions_shape);
    Tensor one_hot = eq(positions, indices).to(g.dtype());
    Shape keep = input_sizes;
    keep[dim] = 1;
    return {one_hot * g.reshape(keep)};
  }
  const char* name() const override { return "MaxBackward"; }
  void release_saved() override { indices = Tensor(); }
};

}  // namespace

Tensor sum(const Tensor& a) { return reduce_sum(a, {}, false, false); }
Tensor sum(const Tensor& a, const std::vector<int>& dims, bool keepdim) { return reduce_sum(a, dims, keepdim, false); }
Tensor mean(const Tensor& a) { return reduce_sum(a, {}, false, true); }
Tensor mean(const Tensor& a, const std::vector<int>& dims, bool keepdim) {
  return reduce_sum(a, dims, keepdim, true);
}

MaxResult max(const Tensor& a, int dim, bool keepdim) {
  EMBER_CHECK(a.defined(), "max: undefined tensor");
  EMBER_CHECK(a.dtype() != DType::UInt8 && a.dtype() != DType::Int32, "max: unsupported dtype {}",
              dtype_name(a.dtype()));
  if (a.dim() == 0) return max(a.reshape({1}), 0, keepdim);
  dim = normalize_dim(dim, a.dim());
  EMBER_CHECK(a.size(dim) > 0, "max over dim {} of size 0 (shape {}) has no identity", dim, shape_str(a.sizes()));
  std::vector<bool> mask(a.dim(), false);
  mask[dim] = true;
  ReducePlan plan = plan_reduction(a.detach(), mask);
  Tensor values = empty(plan.keep_shape, a.options());
  Tensor indices = empty(plan.keep_shape, a.options().dtype(DType::Int64));
  if (values.numel() > 0)
    backend_for(a.device()).reduce(ReduceOp::Max, values, indices, plan.input, plan.outer, plan.n, plan.inner);
  if (any_requires_grad({&a})) {
    auto node = std::make_shared<MaxBackward>();
    node->input_sizes = a.sizes();
    node->dim = dim;
    node->indices = indices;
    attach_node(node, {&a}, values);
  }
  if (!keepdim) {
    values = values.squeeze(dim);
    indices = indices.squeeze(dim);
  }
  return {values, indices};
}

Tensor max(const Tensor& a) { return max(a.reshape({-1}), 0, false).values; }

Tensor argmax(const Tensor& a, int dim, bool keepdim) {
  Tensor values = a.detach();
  return max(values, dim, keepdim).indices;
}

Tensor sum_to(const Tensor& a, const Shape& shape) {
  if (a.sizes() == shape) return a;
  EMBER_CHECK(shape.size() <= a.sizes().size(), "sum_to: cannot reduce shape {} to {}", shape_str(a.sizes()),
              shape_str(shape));
  const size_t lead = a.sizes().size() - shape.size();
  std::vector<int> dims;
  for (size_t d = 0; d < a.sizes().size(); ++d) {
    if (d < lead) {
      dims.push_back(static_cast<int>(d));
    } else if (shape[d - lead] == 1 && a.sizes()[d] != 1) {
      dims.push_back(static_cast<int>(d));
    } else {
      EMBER_CHECK(shape[d - lead] == a.sizes()[d], "sum_to: cannot reduce shape {} to {}", shape_str(a.sizes()),
                  shape_str(shape));
    }
  }
  if (dims.empty()) return a.reshape(shape);
  return sum(a, dims, true).reshape(shape);
}

}  // namespace ember
