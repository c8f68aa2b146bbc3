// Broadcasting binary ops, scalar ops and unary ops, with their backward formulas.
#include <initializer_list>

#include "core/autograd/node.h"
#include "core/backend.h"
#include "core/ops.h"

namespace ember {

// --- helpers shared by all ops

int normalize_dim(int dim, int ndim) {
  const int n = ndim == 0 ? 1 : ndim;  // a 0-d tensor accepts dim 0 and -1, like torch
  EMBER_CHECK(dim >= -n && dim < n, "dimension {} out of range for a tensor of {} dims", dim, ndim);
  return dim < 0 ? dim + n : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    EMBER_CHECK(da == db || da == 1 || db == 1, "shapes {} and {} cannot be broadcast together", shape_str(a),
                shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  EMBER_CHECK(a.defined() && b.defined(), "{}: undefined tensor argument", op);
  EMBER_CHECK(a.device() == b.device(), "{}: tensors on different devices ({} and {})", op, a.device().str(),
              b.device().str());
}

void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  EMBER_CHECK(a.dtype() == b.dtype(), "{}: tensors of different dtypes ({} and {}); convert one with to()", op,
              dtype_name(a.dtype()), dtype_name(b.dtype()));
}

namespace {

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
    case BinaryOp::Maximum: return "maximum";
    case BinaryOp::Minimum: return "minimum";
    case BinaryOp::ThresholdBackward: return "threshold_backward";
    case BinaryOp::Eq: return "eq";
    case BinaryOp::Ne: return "ne";
    case BinaryOp::Lt: return "lt";
    case BinaryOp::Le: return "le";
    case BinaryOp::Gt: return "gt";
    case BinaryOp::Ge: return "ge";
  }
  return "binary";
}

// The output of an elementwise op: NHWC when a full-shape operand is NHWC and none is NCHW
// (Note [channels_last] in view_ops.cpp), else contiguous.
Tensor empty_for(const Shape& shape, TensorOptions options, std::initializer_list<const Tensor*> operands) {
  if (shape.size() == 4) {
    bool nhwc = false, nchw = false;
    for (const Tensor* t : operands) {
      if (t->sizes() != shape) continue;
      nhwc = nhwc || is_nhwc(*t);
      nchw = nchw || (t->is_contiguous() && !t->is_channels_last());
    }
    return empty_in_layout(shape, options, nhwc && !nchw);
  }
  return empty(shape, options);
}

// The forward computation alone (no autograd).
Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, double alpha) {
  const char* name = binary_name(op);
  check_same_device(a, b, name);
  check_same_dtype(a, b, name);
  EMBER_CHECK(op != BinaryOp::Div || is_floating(a.dtype()), "div needs floating-point tensors, got {}",
              dtype_name(a.dtype()));
  const Shape shape = broadcast_shapes(a.sizes(), b.sizes());
  const DType out_dtype = kernels::is_comparison(op) ? DType::UInt8 : a.dtype();
  Tensor out = empty_for(shape, a.options().dtype(out_dtype), {&a, &b});
  if (out.numel() > 0) backend_for(a.device()).binary(op, out, a.detach().expand(shape), b.detach().expand(shape), alpha);
  return out;
}

Tensor unary_forward(UnaryOp op, const Tensor& a, double scalar, const char* name) {
  EMBER_CHECK(a.defined(), "{}: undefined tensor argument", name);
  EMBER_CHECK(is_floating(a.dtype()), "{} needs a floating-point tensor, got {}", name, dtype_name(a.dtype()));
  Tensor out = empty_for(a.sizes(), a.options(), {&a});
  if (out.numel() > 0) backend_for(a.device()).unary(op, out, a.detach(), scalar);
  return out;
}

struct BinaryBackward final : Node {
  BinaryOp op;
  double alpha = 1.0;
  Tensor a, b;  // saved only by ops whose formulas need them
  Shape a_sizes, b_sizes;

  std::vector<Tensor> apply(const Tensor& g) override {
    check_not_released();
    switch (op) {
      case BinaryOp::Add: return {sum_to(g, a_sizes), sum_to(alpha == 1.0 ? g : g * alpha, b_sizes)};
      case BinaryOp::Sub: return {sum_to(g, a_sizes), sum_to(g * -alpha, b_sizes)};
      case BinaryOp::Mul: return {sum_to(g * b, a_sizes), sum_to(g * a, b_sizes)};
      case BinaryOp::Div: return {sum_to(g / b, a_sizes), sum_to(-(g * a) / (b * b), b_sizes)};
      case BinaryOp::Maximum:
      case BinaryOp::Minimum: {
        // torch: the winner gets the gradient, a tie splits it in half.
        Tensor a_wins = (op == BinaryOp::Maximum ? gt(a, b) : lt(a, b)).to(g.dtype());
        Tensor tie = eq(a, b).to(g.dtype()) * 0.5;
        Tensor share_a = a_wins + tie;
        return {sum_to(g * share_a, a_sizes), sum_to(g * (1.0 - share_a), b_sizes)};
      }
      default: EMBER_FAIL("no backward for {}", binary_name(op));
    }
  }
  const char* name() const override { return "BinaryBackward"; }
  void release_saved() override {
    a = Tensor();
    b = Tensor();
  }
};

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b, double alpha = 1.0) {
  Tensor out = binary_forward(op, a, b, alpha);
  if (!kernels::is_comparison(op) && any_requires_grad({&a, &b})) {
    auto node = std::make_shared<BinaryBackward>();
    node->op = op;
    node->alpha = alpha;
    node->a_sizes = a.sizes();
    node->b_sizes = b.sizes();
    if (op != BinaryOp::Add && op != BinaryOp::Sub) {
      node->a = a.detach();
      node->b = b.detach();
    }
    attach_node(node, {&a, &b}, out);
  }
  return out;
}

struct UnaryBackward final : Node {
  UnaryOp op;
  double scalar = 0.0;
  Tensor input, output;  // whichever the formula needs

  std::vector<Tensor> apply(const Tensor& g) override {
    check_not_released();
    switch (op) {
      case UnaryOp::Neg: return {-g};
      case UnaryOp::Exp: return {g * output};
      case UnaryOp::Log: return {g / input};
      case UnaryOp::Sqrt: return {g / (output * 2.0)};
      case UnaryOp::Abs: return {g * unary_forward(UnaryOp::Sign, input, 0.0, "sign")};
      case UnaryOp::Relu: return {binary_forward(BinaryOp::ThresholdBackward, g, output, 1.0)};
      case UnaryOp::Square: return {g * input * 2.0};
      case UnaryOp::Pow:
        return {scalar == 0.0 ? zeros_like(g) : g * pow(input, scalar - 1.0) * scalar};
      case UnaryOp::AddScalar: return {g};
      case UnaryOp::MulScalar: return {g * scalar};
      default: EMBER_FAIL("no backward for unary op {}", static_cast<int>(op));
    }
  }
  const char* name() const override { return "UnaryBackward"; }
  void release_saved() override {
    input = Tensor();
    output = Tensor();
  }
};

Tensor unary(UnaryOp op, const Tensor& a, double scalar, const char* name) {
  Tensor out = unary_forward(op, a, scalar, name);
  if (any_requires_grad({&a})) {
    auto node = std::make_shared<UnaryBackward>();
    node->op = op;
    node->scalar = scalar;
    if (op == UnaryOp::Exp || op == UnaryOp::Sqrt || op == UnaryOp::Relu) node->output = out.detach();
    if (op == UnaryOp::Log || op == UnaryOp::Abs || op == UnaryOp::Square || op == UnaryOp::Pow)
      node->input = a.detach();
    attach_node(node, {&a}, out);
  }
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, double alpha) { return binary(BinaryOp::Add, a, b, alpha); }
Tensor sub(const Tensor& a, const Tensor& b, double alpha) { return binary(BinaryOp::Sub, a, b, alpha); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Maximum, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Minimum, a, b); }
Tensor eq(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Eq, a, b, 1.0); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Ne, a, b, 1.0); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Lt, a, b, 1.0); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Le, a, b, 1.0); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Gt, a, b, 1.0); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::Ge, a, b, 1.0); }

Tensor add(const Tensor& a, double b) {
  if (!is_floating(a.dtype())) return add(a, full({}, b, a.options()));
  return unary(UnaryOp::AddScalar, a, b, "add");
}
Tensor mul(const Tensor& a, double b) {
  if (!is_floating(a.dtype())) return mul(a, full({}, b, a.options()));
  return unary(UnaryOp::MulScalar, a, b, "mul");
}
Tensor pow(const Tensor& a, double exponent) { return unary(UnaryOp::Pow, a, exponent, "pow"); }
Tensor neg(const Tensor& a) { return unary(UnaryOp::Neg, a, 0.0, "neg"); }
Tensor exp(const Tensor& a) { return unary(UnaryOp::Exp, a, 0.0, "exp"); }
Tensor log(const Tensor& a) { return unary(UnaryOp::Log, a, 0.0, "log"); }
Tensor sqrt(const Tensor& a) { return unary(UnaryOp::Sqrt, a, 0.0, "sqrt"); }
Tensor abs(const Tensor& a) { return unary(UnaryOp::Abs, a, 0.0, "abs"); }
Tensor relu(const Tensor& a) { return unary(UnaryOp::Relu, a, 0.0, "relu"); }
Tensor square(const Tensor& a) { return unary(UnaryOp::Square, a, 0.0, "square"); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return mul(a, 1.0 / b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return add(neg(b), a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return mul(pow(b, -1.0), a); }

}  // namespace ember
