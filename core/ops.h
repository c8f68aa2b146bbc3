// The differentiable ops of ember's core. Each validates its arguments (shape and device
// errors name the shapes and devices), allocates a contiguous output, calls the backend of
// the inputs' device and, in grad mode, records an autograd Node.
#pragma once

#include <cstdint>
#include <vector>

#include "core/generator.h"
#include "core/tensor.h"

namespace ember {

// --- broadcasting elementwise (numpy rules; both operands on one device and of one dtype)
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a + alpha * b
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a - alpha * b
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// Comparisons: uint8 0/1, never differentiable.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

// --- with a scalar
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor pow(const Tensor& a, double exponent);

// --- unary (floating)
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor relu(const Tensor& a);
Tensor square(const Tensor& a);

// --- reductions. dims may be negative; empty dims = all dims.
Tensor sum(const Tensor& a);
Tensor sum(const Tensor& a, const std::vector<int>& dims, bool keepdim = false);
Tensor mean(const Tensor& a);
Tensor mean(const Tensor& a, const std::vector<int>& dims, bool keepdim = false);
// Maximum along one dim, and the index of its first occurrence (int64).
struct MaxResult {
  Tensor values;
  Tensor indices;
};
MaxResult max(const Tensor& a, int dim, bool keepdim = false);
Tensor max(const Tensor& a);  // over all elements
Tensor argmax(const Tensor& a, int dim, bool keepdim = false);
// Sums `a` down to `shape` (the reverse of broadcasting `shape` to a's shape).
Tensor sum_to(const Tensor& a, const Shape& shape);

// --- linear algebra: [m,k]@[k,n], [b,m,k]@[b,k,n], [b,m,k]@[k,n], [m,k]@[b,k,n]
Tensor matmul(const Tensor& a, const Tensor& b);

// --- softmax family (over `dim`)
Tensor log_softmax(const Tensor& a, int dim = -1);
Tensor softmax(const Tensor& a, int dim = -1);
// Mean softmax cross-entropy of logits [N, C] against int64 targets [N] in [0, C), with
// optional label smoothing in [0, 1] (torch.nn.functional.cross_entropy semantics).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing = 0.0);
// Number of rows of logits [N, C] whose argmax equals the target (int64 scalar tensor,
// on the logits' device: no host synchronisation).
Tensor count_correct(const Tensor& logits, const Tensor& targets);

// --- random (Philox; identical on CPU and CUDA for the same generator state)
Tensor rand(const Shape& shape, TensorOptions options = {}, Generator* generator = nullptr);
Tensor randn(const Shape& shape, TensorOptions options = {}, Generator* generator = nullptr);
// In-place fills of a contiguous floating tensor (not recorded by autograd).
const Tensor& uniform_(const Tensor& t, double low, double high, Generator* generator = nullptr);
const Tensor& normal_(const Tensor& t, double mean, double std, Generator* generator = nullptr);

// --- operators
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// --- helpers for writing ops (used by nn/ too)
Shape broadcast_shapes(const Shape& a, const Shape& b);  // throws naming both shapes
int normalize_dim(int dim, int ndim);                    // -1 -> ndim-1, range checked
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op);

}  // namespace ember
