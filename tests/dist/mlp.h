// A small two-layer perceptron from core ops (no batch norm, so a batch's gradient is the mean
// of its samples' gradients) and a synthetic batch: the model of the data-parallel tests.
#pragma once

#include <string>
#include <vector>

#include "core/ops.h"
#include "optim/flat_parameters.h"

namespace ember::testing {

struct Mlp {
  // Odd sizes: buckets and shards cut through parameters. Seeded: every rank builds the same.
  static constexpr int64_t kIn = 13, kHidden = 21, kClasses = 5;

  explicit Mlp(uint64_t seed) {
    Generator g(seed);
    auto make = [&](const char* name, const Shape& shape, double scale) {
      Tensor t = empty(shape);
      uniform_(t, -scale, scale, &g);
      t.set_requires_grad(true);
      named.emplace_back(name, t);
      return t;
    };
    w1 = make("w1", {kIn, kHidden}, 0.4);
    b1 = make("b1", {kHidden}, 0.1);
    unused = make("unused", {3}, 1.0);  // never in the graph: its bucket starts in finish()
    w2 = make("w2", {kHidden, kClasses}, 0.4);
    b2 = make("b2", {kClasses}, 0.1);
  }

  // Mean cross-entropy over the rows [first, first + count) of the batch.
  Tensor loss(const Tensor& x, const Tensor& y, int64_t first, int64_t count) const {
    const Tensor xs = x.slice(0, first, first + count), ys = y.slice(0, first, first + count);
    const Tensor h = relu(add(matmul(xs, w1), b1));
    return cross_entropy(add(matmul(h, w2), b2), ys);
  }

  optim::NamedParameters named;
  Tensor w1, b1, unused, w2, b2;
};

// A batch of `rows` samples: inputs in [-1, 1), labels in [0, kClasses).
inline std::pair<Tensor, Tensor> synthetic_batch(int64_t rows, uint64_t seed) {
  Generator g(seed);
  Tensor x = empty({rows, Mlp::kIn});
  uniform_(x, -1, 1, &g);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < rows; ++i) labels.push_back(static_cast<int64_t>((seed * 7 + i * 3) % Mlp::kClasses));
  return {x, from_vector(labels, {rows})};
}

}  // namespace ember::testing
