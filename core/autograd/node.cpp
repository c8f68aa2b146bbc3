#include "core/autograd/node.h"

#include <atomic>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"

namespace ember {

namespace {
std::atomic<uint64_t> next_sequence_nr{0};
thread_local bool grad_mode = true;
}  // namespace

bool grad_mode_enabled() { return grad_mode; }
void set_grad_mode(bool enabled) { grad_mode = enabled; }

Node::Node() : sequence_nr(next_sequence_nr++) {}

void Node::check_not_released() const {
  EMBER_CHECK(!released,
              "trying to backward through the graph a second time ({}'s saved tensors were already freed); "
              "pass retain_graph=true to the first backward if you need to",
              name());
}

AccumulateGrad::AccumulateGrad(const Tensor& leaf_tensor) : leaf(leaf_tensor.shared_impl()) {}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& grad_output) {
  std::shared_ptr<TensorImpl> impl = leaf.lock();
  if (!impl || !grad_output.defined()) return {};  // the leaf is gone: nobody can read its grad
  const Tensor variable(impl);
  EMBER_CHECK(grad_output.sizes() == variable.sizes(),
              "autograd: gradient of shape {} for a leaf of shape {} (an op's backward is wrong)",
              shape_str(grad_output.sizes()), shape_str(variable.sizes()));
  const Tensor& grad = variable.grad();
  if (grad.defined()) {
    grad.add_(grad_output);  // in place: grad may be a view into a flat gradient buffer
  } else {
    // A copy, never the incoming tensor itself: it may be shared with another input's
    // gradient (add passes one gradient to both operands) or alias saved data.
    variable.set_grad(grad_output.detach().clone());
  }
  for (const auto& [id, hook] : impl->autograd_.post_accumulate_hooks) hook();
  return {};
}

bool any_requires_grad(const std::vector<const Tensor*>& inputs) {
  if (!grad_mode_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

std::string InputMetadata::str() const {
  return fmt::format("{} {} on {}", dtype_name(dtype), shape_str(shape), device.str());
}

Edge gradient_edge(const Tensor& input) {
  if (!input.defined() || !input.requires_grad()) return {};
  InputMetadata metadata{input.sizes(), input.dtype(), input.device()};
  if (input.grad_fn()) return {input.grad_fn(), std::move(metadata)};
  // A leaf: every use in the graph shares one AccumulateGrad so the engine sums them first.
  AutogradMeta& meta = input.impl()->autograd_;
  std::shared_ptr<Node> acc = meta.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(input);
    meta.grad_accumulator = acc;
  }
  return {acc, std::move(metadata)};
}

void check_gradient(const Node& node, size_t index, const Tensor& grad) {
  const InputMetadata& want = node.next_edges[index].input;
  if (grad.sizes() == want.shape && grad.dtype() == want.dtype && grad.device() == want.device) return;
  const InputMetadata got{grad.sizes(), grad.dtype(), grad.device()};
  EMBER_FAIL("autograd: {} returned a gradient of {} for its input {}, which is {} (that op's backward is wrong)",
             node.name(), got.str(), index, want.str());
}

void attach_node(const std::shared_ptr<Node>& node, const std::vector<const Tensor*>& inputs, Tensor& output) {
  node->next_edges.clear();
  for (const Tensor* t : inputs) node->next_edges.push_back(gradient_edge(*t));
  output.set_grad_fn(node);
}

}  // namespace ember
