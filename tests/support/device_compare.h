// The GPU-vs-CPU check every CUDA suite uses: an op run on CPU copies and on CUDA copies of
// the same inputs must give close outputs, and close gradients of sum(out * w) for a random w.
#pragma once

#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "core/tensor.h"

namespace ember::testing {

using Inputs = std::vector<Tensor>;
using DeviceOp = std::function<Tensor(const Inputs&)>;
using Closeness = std::function<::testing::AssertionResult(const Tensor& got, const Tensor& want)>;

// Floating inputs become leaves that require grad when `backward`; the gradients are
// compared when the output is differentiable and not empty. w is uniform in [0.5, 1.5) from
// `w_seed`. Failures are reported as gtest failures of the calling test.
void expect_cuda_matches_cpu(const DeviceOp& op, const Inputs& inputs, const Closeness& close, bool backward,
                             uint64_t w_seed);

}  // namespace ember::testing
