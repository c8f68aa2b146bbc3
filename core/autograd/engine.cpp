// The backward engine (after PyTorch's engine.cpp, single-threaded): count how many
// consumers feed each node, then run nodes whose consumers are all done, summing the
// gradients that arrive for each node into one input buffer.
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/ops.h"

namespace ember {

namespace {

struct LaterFirst {  // among ready nodes, the one created last runs first (like PyTorch)
  bool operator()(const Node* a, const Node* b) const { return a->sequence_nr < b->sequence_nr; }
};

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_root, bool retain_graph) {
  NoGradGuard no_grad;  // backward formulas are not themselves recorded
  std::shared_ptr<Node> root_node = gradient_edge(root).node;
  if (!root_node) return;

  // Dependencies: for each node, the number of edges pointing at it from reachable nodes.
  std::unordered_map<Node*, int> dependencies;
  std::vector<Node*> stack = {root_node.get()};
  std::unordered_set<Node*> seen = {root_node.get()};
  std::vector<std::shared_ptr<Node>> keep_alive = {root_node};
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const Edge& e : node->next_edges) {
      if (!e.node) continue;
      dependencies[e.node.get()]++;
      if (seen.insert(e.node.get()).second) {
        stack.push_back(e.node.get());
        keep_alive.push_back(e.node);
      }
    }
  }

  std::unordered_map<Node*, Tensor> buffers;
  buffers[root_node.get()] = grad_root;
  std::priority_queue<Node*, std::vector<Node*>, LaterFirst> ready;
  ready.push(root_node.get());
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    Tensor grad = std::move(buffers[node]);
    buffers.erase(node);
    std::vector<Tensor> input_grads;
    if (grad.defined()) {
      node->check_not_released();
      input_grads = node->apply(grad);
      EMBER_CHECK(input_grads.empty() || input_grads.size() == node->next_edges.size(),
                  "autograd: {} returned {} gradients for {} inputs", node->name(), input_grads.size(),
                  node->next_edges.size());
    }
    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      Node* next = node->next_edges[i].node.get();
      if (!next) continue;
      if (i < input_grads.size() && input_grads[i].defined()) {
        check_gradient(*node, i, input_grads[i]);
        Tensor& buffer = buffers[next];
        buffer = buffer.defined() ? add(buffer, input_grads[i]) : input_grads[i];
      }
      if (--dependencies[next] == 0) ready.push(next);
    }
  }

  if (!retain_graph) {
    for (Node* node : seen) {
      if (dynamic_cast<AccumulateGrad*>(node)) continue;  // leaves stay usable for new graphs
      node->release_saved();
      node->released = true;
    }
  }
}

}  // namespace ember
