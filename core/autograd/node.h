// Autograd graph nodes (after PyTorch's torch/csrc/autograd/function.h, reduced).
//
// A Node is the backward of one op application. It holds the tensors its formula needs
// (released after backward unless the graph is retained) and one Edge per differentiable
// input: the Node that produced that input (or the input's AccumulateGrad if it is a
// leaf), or nothing if the input needs no gradient.
//
// Note [gradient metadata]
// Each Edge also records the shape, dtype and device of its input when the op ran (PyTorch's
// InputMetadata). The engine checks every gradient a backward formula returns against it and
// names the op when they differ, so a wrong backward fails at the op that is wrong instead of
// being broadcast, converted or copied across devices silently further down.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ember {

// What the gradient for one input must look like (Note [gradient metadata]).
struct InputMetadata {
  Shape shape;
  DType dtype = DType::Float32;
  Device device = Device::cpu();
  std::string str() const;  // "float32 [2, 3] on cpu"
};

struct Edge {
  std::shared_ptr<Node> node;  // null: this input needs no gradient
  InputMetadata input;         // the input as the op saw it (meaningful when node is set)
};

struct Node : std::enable_shared_from_this<Node> {
  Node();
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Gradients w.r.t. each input (one per next_edges entry; undefined = zero) from the
  // gradient w.r.t. this node's output.
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  virtual const char* name() const = 0;
  // Drops saved tensors; apply() afterwards throws. Called by the engine after backward.
  virtual void release_saved() {}

  std::vector<Edge> next_edges;
  uint64_t sequence_nr;  // creation order: later nodes run first among ready ones
  bool released = false;

  // Throws the "backward through the graph a second time" error if released.
  void check_not_released() const;
};

// The sink for a leaf tensor: adds incoming gradients into leaf.grad (the gradient's shape
// is checked against the leaf's; an existing grad is accumulated in place, which is how
// gradients land in views of a flat gradient buffer).
struct AccumulateGrad final : Node {
  explicit AccumulateGrad(const Tensor& leaf);
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  const char* name() const override { return "AccumulateGrad"; }
  std::weak_ptr<TensorImpl> leaf;
};

// --- helpers for defining ops

// True when grad mode is on and any of the inputs requires grad.
bool any_requires_grad(const std::vector<const Tensor*>& inputs);
// The edge for one input (its grad_fn, its AccumulateGrad, or none) with its metadata.
Edge gradient_edge(const Tensor& input);
// Throws naming `node` when `grad`, the gradient it returned for input `index`, does not
// have that input's shape, dtype and device (Note [gradient metadata]).
void check_gradient(const Node& node, size_t index, const Tensor& grad);
// Connects `node` to `inputs` and makes it the grad_fn of `output` (which then requires
// grad). Call only when any_requires_grad(inputs).
void attach_node(const std::shared_ptr<Node>& node, const std::vector<const Tensor*>& inputs, Tensor& output);

// Runs backward from `root` with initial gradient `grad_root` (engine.cpp).
void run_backward(const Tensor& root, const Tensor& grad_root, bool retain_graph);

}  // namespace ember
