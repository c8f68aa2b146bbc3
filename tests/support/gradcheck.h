// gradcheck: compares autograd's gradients with central finite differences, in double
// precision on the CPU.
//
// For inputs x_1..x_k (contiguous float64 leaves that require grad) and a function f, it
// builds the scalar L = sum(f(x) * w) with a fixed random weight w (so every output element
// matters, with different weights), runs L.backward(), and compares each dL/dx_i[j] with
// (L(x + h e_j) - L(x - h e_j)) / 2h. With h = 1e-6 the truncation error is O(h^2) ~ 1e-12
// and the rounding error O(eps / h) ~ 1e-10 relative to |L|, so atol 1e-6 and rtol 1e-5
// leave two orders of magnitude of margin while catching any wrong formula. Inputs must
// stay away from kinks (relu at 0, ties of max) by at least h.
#pragma once

#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "core/tensor.h"

namespace ember::testing {

using Function = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-5;
  uint64_t weight_seed = 1234;
};

::testing::AssertionResult gradcheck(const Function& f, const std::vector<Tensor>& inputs,
                                     GradcheckOptions options = {});

// A float64 CPU leaf of `shape` with values uniform in [low, high) that requires grad.
Tensor random_leaf(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0);

}  // namespace ember::testing
