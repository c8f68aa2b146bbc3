// log_softmax, softmax and the fused softmax cross-entropy loss.
#include "core/autograd/node.h"
#include "core/backend.h"
#include "core/ops.h"

namespace ember {

namespace {

// Moves `dim` last so the backend sees contiguous rows; returns the permutation used.
std::vector<int> dim_last_order(int ndim, int dim) {
  std::vector<int> order;
  for (int d = 0; d < ndim; ++d)
    if (d != dim) order.push_back(d);
  order.push_back(dim);
  return order;
}

std::vector<int> inverse_order(const std::vector<int>& order) {
  std::vector<int> inv(order.size());
  for (size_t i = 0; i < order.size(); ++i) inv[order[i]] = static_cast<int>(i);
  return inv;
}

struct LogSoftmaxBackward final : Node {
  Tensor output;  // in the rows layout (dim last, contiguous)
  std::vector<int> order;
  std::vector<Tensor> apply(const Tensor& g) override {
    check_not_released();
    Tensor g_rows = g.permute(order).contiguous();
    Tensor grad = empty(g_rows.sizes(), g_rows.options());
    if (grad.numel() > 0) backend_for(g.device()).log_softmax_backward(grad, g_rows, output);
    return {grad.permute(inverse_order(order)).contiguous()};
  }
  const char* name() const override { return "LogSoftmaxBackward"; }
  void release_saved() override { output = Tensor(); }
};

struct CrossEntropyBackward final : Node {
  Tensor logits, targets;
  double label_smoothing = 0.0;
  std::vector<Tensor> apply(const Tensor& g) override {
    check_not_released();
    Tensor grad = empty(logits.sizes(), logits.options());
    const double scale = 1.0 / static_cast<double>(logits.size(0));
    backend_for(logits.device()).cross_entropy_backward(grad, logits, targets, g.contiguous(), scale, label_smoothing);
    return {grad, Tensor()};
  }
  const char* name() const override { return "CrossEntropyBackward"; }
  void release_saved() override {
    logits = Tensor();
    targets = Tensor();
  }
};

}  // namespace

Tensor log_softmax(const Tensor& a, int dim) {
  EMBER_CHECK(a.defined(), "log_softmax: undefined tensor");
  EMBER_CHECK(is_floating(a.dtype()), "log_softmax needs a floating-point tensor, got {}", dtype_name(a.dtype()));
  if (a.dim() == 0) return log_softmax(a.reshape({1}), 0).reshape({});
  dim = normalize_dim(dim, a.dim());
  const std::vector<int> order = dim_last_order(a.dim(), dim);
  Tensor rows = a.detach().permute(order).contiguous();
  Tensor out_rows = empty(rows.sizes(), rows.options());
  if (out_rows.numel() > 0) backend_for(a.device()).log_softmax(out_rows, rows);
  Tensor out = out_rows.permute(inverse_order(order)).contiguous();
  if (any_requires_grad({&a})) {
    auto node = std::make_shared<LogSoftmaxBackward>();
    node->output = out_rows;
    node->order = order;
    attach_node(node, {&a}, out);
  }
  return out;
}

Tensor softmax(const Tensor& a, int dim) { return exp(log_softmax(a, dim)); }

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing) {
  EMBER_CHECK(logits.defined() && targets.defined(), "cross_entropy: undefined tensor");
  EMBER_CHECK(logits.dim() == 2, "cross_entropy: logits must be [N, C], got {}", shape_str(logits.sizes()));
  EMBER_CHECK(targets.dim() == 1 && targets.size(0) == logits.size(0),
              "cross_entropy: targets must be [N] = [{}], got {}", logits.size(0), shape_str(targets.sizes()));
  EMBER_CHECK(targets.dtype() == DType::Int64, "cross_entropy: targets must be int64, got {}",
              dtype_name(targets.dtype()));
  EMBER_CHECK(is_floating(logits.dtype()), "cross_entropy: logits must be floating-point, got {}",
              dtype_name(logits.dtype()));
  check_same_device(logits, targets, "cross_entropy");
  EMBER_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, "cross_entropy: label_smoothing {} not in [0, 1]",
              label_smoothing);
  EMBER_CHECK(logits.size(0) > 0 && logits.size(1) > 0, "cross_entropy: empty logits {}", shape_str(logits.sizes()));
  // Targets are checked on the CPU; on CUDA the kernel turns an out-of-range target into a
  // NaN loss instead (no host synchronisation), which training reports as divergence.
  if (targets.device().is_cpu()) {
    const int64_t* t = targets.contiguous().data<int64_t>();
    for (int64_t i = 0; i < targets.numel(); ++i)
      EMBER_CHECK(t[i] >= 0 && t[i] < logits.size(1), "cross_entropy: target {} of row {} is outside [0, {})", t[i],
                  i, logits.size(1));
  }
  Tensor x = logits.detach().contiguous(), y = targets.contiguous();
  Tensor losses = empty({x.size(0)}, x.options());
  backend_for(x.device()).cross_entropy(losses, x, y, label_smoothing);
  Tensor out = mean(losses);
  if (any_requires_grad({&logits})) {
    auto node = std::make_shared<CrossEntropyBackward>();
    node->logits = x;
    node->targets = y;
    node->label_smoothing = label_smoothing;
    attach_node(node, {&logits, &targets}, out);
  }
  return out;
}

Tensor count_correct(const Tensor& logits, const Tensor& targets) {
  EMBER_CHECK(logits.dim() == 2 && targets.dim() == 1 && targets.size(0) == logits.size(0),
              "count_correct: logits [N, C] and targets [N], got {} and {}", shape_str(logits.sizes()),
              shape_str(targets.sizes()));
  return sum(eq(argmax(logits, 1), targets.to(DType::Int64)));
}

}  // namespace ember
