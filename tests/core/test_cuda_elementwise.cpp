// Elementwise ops on CUDA against the CPU (tests/core/cuda_vs_cpu.h): binary and unary ops
// over awkward shapes, broadcasting and strided operands, and element counts that take
// several passes of the grid-stride loop, on the flat and the strided (32-bit index) bodies.
// Tolerances: the fixture's (elementwise: atol 1e-6, rtol 1e-5; comparisons exact).
#include <gtest/gtest.h>

#include "tests/core/cuda_vs_cpu.h"

namespace ember {
namespace {

using testing::CudaVsCpu;
using testing::V;

using CudaElementwise = CudaVsCpu;

TEST_F(CudaElementwise, BinaryOpsOnAwkwardShapes) {
  for (const Shape& s : testing::kAwkward) {
    Tensor a = random(s), b = random(s, 0.5, 2.0);
    check("add", [](const V& x) { return add(x[0], x[1], 0.3); }, {a, b}, 1e-6, 1e-5);
    check("sub", [](const V& x) { return x[0] - x[1]; }, {a, b}, 1e-6, 1e-5);
    check("mul", [](const V& x) { return x[0] * x[1]; }, {a, b}, 1e-6, 1e-5);
    check("div", [](const V& x) { return x[0] / x[1]; }, {a, b}, 1e-6, 1e-5);
    check("maximum", [](const V& x) { return maximum(x[0], x[1]); }, {a, b}, 1e-6, 1e-5);
    check("lt", [](const V& x) { return lt(x[0], x[1]); }, {a, b}, 0, 0, false);
    check("eq int64", [](const V& x) { return eq(x[0], x[1]); }, {a.to(DType::Int64), b.to(DType::Int64)}, 0, 0);
  }
}

TEST_F(CudaElementwise, BroadcastingAndStridedOperands) {
  Tensor a = random({5, 1, 7}), b = random({3, 1}), m = random({9, 6});
  check("broadcast add", [](const V& x) { return x[0] + x[1]; }, {a, b}, 1e-6, 1e-5);
  check("broadcast mul", [](const V& x) { return x[0] * x[1]; }, {a, b}, 1e-6, 1e-5);
  check("transposed", [](const V& x) { return x[0].t() * 2.0 + x[0].t(); }, {m}, 1e-6, 1e-5);
  check("sliced", [](const V& x) { return x[0].slice(0, 1, 9, 2).slice(1, 0, 5, 3) + 1.0; }, {m}, 1e-6, 1e-5);
  check("scalar", [](const V& x) { return x[0] * x[1]; }, {random({}), random({4, 3})}, 1e-6, 1e-5);
}

TEST_F(CudaElementwise, UnaryOpsOnAwkwardShapes) {
  for (const Shape& s : testing::kAwkward) {
    Tensor a = random(s), p = random(s, 0.1, 3.0);
    check("exp", [](const V& x) { return exp(x[0]); }, {a}, 1e-6, 1e-5);
    check("log", [](const V& x) { return log(x[0]); }, {p}, 1e-6, 1e-5);
    check("sqrt", [](const V& x) { return sqrt(x[0]); }, {p}, 1e-6, 1e-5);
    check("pow", [](const V& x) { return pow(x[0], 1.5); }, {p}, 1e-6, 1e-5);
    check("relu", [](const V& x) { return relu(x[0]); }, {a}, 1e-6, 1e-5);
    check("abs neg square", [](const V& x) { return abs(-square(x[0])); }, {a}, 1e-6, 1e-5);
  }
}

TEST_F(CudaElementwise, SizesThatTakeSeveralGridStridePasses) {
  for (int64_t n : testing::kMultiPassSizes) {
    SCOPED_TRACE(n);
    const Tensor a = random({n}), b = random({n}, 0.5, 2.0);
    check("flat add and backward", [](const V& x) { return add(x[0], x[1], 0.3); }, {a, b}, 1e-6, 1e-5);
    check("flat exp", [](const V& x) { return exp(x[0]); }, {a}, 1e-6, 1e-5, false);
    // Strided bodies, all with 32-bit multiply-shift index math: every other element
    // (stride 2), a transposed [7, n / 7] view, a row broadcast over 7 rows.
    const Tensor wide = random({2 * n});
    check("stride 2", [](const V& x) { return x[0].slice(0, 0, x[0].size(0), 2) * 3.0; }, {wide}, 1e-6, 1e-5, false);
    const int64_t rows = n / 7;
    const Tensor m = random({7, rows}), row = random({1, rows});
    check("transposed", [](const V& x) { return x[0].t() + 1.0; }, {m}, 1e-6, 1e-5, false);
    check("broadcast", [](const V& x) { return x[0] * x[1]; }, {m, row}, 1e-6, 1e-5, false);
    check("compare", [](const V& x) { return gt(x[0], x[1]); }, {a, b}, 0, 0, false);
  }
}

}  // namespace
}  // namespace ember
