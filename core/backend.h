// Backend: the primitive computations of one device type. Ops in core/ops/ validate
// arguments, allocate outputs, record autograd nodes and then call these; a backend only
// computes. Outputs are preallocated by the caller with the right shape and dtype.
//
// Every Tensor argument is on the backend's device. Unless stated, inputs may be strided
// (non-contiguous, or broadcast with stride 0) while `out` may be any strided view too.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "kernels/elementwise_ops.h"

namespace ember {

using kernels::BinaryOp;
using kernels::UnaryOp;

enum class ReduceOp { Sum, Max };

// Row-major GEMM over a batch: C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b], where
// op(X) is X or X^T, A[b] starts at a + b*stride_a (elements), etc. A stride of 0 repeats
// the same matrix for every batch entry.
struct GemmArgs {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;      // op(A) is m x k, op(B) is k x n, C is m x n
  int64_t lda = 0, ldb = 0, ldc = 0;  // row strides of A, B, C as stored
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  double alpha = 1.0, beta = 0.0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // dst = src elementwise (src already expanded to dst's shape), converting dtype.
  virtual void copy(const Tensor& dst, const Tensor& src) = 0;
  virtual void fill(const Tensor& dst, double value) = 0;
  // out = op(in, scalar); floating dtypes; out and in have the same dtype and shape.
  virtual void unary(UnaryOp op, const Tensor& out, const Tensor& in, double scalar) = 0;
  // out = op(a, b) with a, b expanded to out's shape and of one dtype; out is uint8 for
  // comparisons and of a's dtype otherwise.
  virtual void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, double alpha) = 0;
  // Reduces a contiguous `in` seen as [outer, n, inner] over its middle dim into the
  // contiguous `out` [outer, inner]. Max also writes int64 `indices` (first maximum; NaN
  // counts as the maximum, as in torch) when they are defined. n > 0.
  virtual void reduce(ReduceOp op, const Tensor& out, const Tensor& indices, const Tensor& in,
                      int64_t outer, int64_t n, int64_t inner) = 0;
  // Contiguous a, b, c of one floating dtype (strides in args).
  virtual void gemm(const GemmArgs& args, const Tensor& a, const Tensor& b, const Tensor& c) = 0;
  // Row-wise over contiguous [rows, cols].
  virtual void log_softmax(const Tensor& out, const Tensor& in) = 0;
  // grad_in = grad_out - exp(out) * rowsum(grad_out), all contiguous [rows, cols].
  virtual void log_softmax_backward(const Tensor& grad_in, const Tensor& grad_out, const Tensor& out) = 0;
  // Per-row loss of softmax cross-entropy with label smoothing eps:
  //   loss_i = logsumexp(x_i) - (1 - eps) x_i[t_i] - eps/C sum_c x_i[c].
  // logits contiguous [rows, C], targets int64 [rows] in [0, C) (checked by the caller).
  virtual void cross_entropy(const Tensor& losses, const Tensor& logits, const Tensor& targets,
                             double label_smoothing) = 0;
  // grad_logits = scale * grad_loss[0] * (softmax(x) - (1 - eps) onehot(t) - eps/C).
  // grad_loss is a one-element tensor read on the device (no host synchronisation).
  virtual void cross_entropy_backward(const Tensor& grad_logits, const Tensor& logits,
                                      const Tensor& targets, const Tensor& grad_loss,
                                      double scale, double label_smoothing) = 0;
  // Contiguous out: out[i] = start + i * step.
  virtual void arange(const Tensor& out, double start, double step) = 0;
  // Contiguous floating out, filled from the Philox stream (seed, counter0).
  virtual void random_uniform(const Tensor& out, uint64_t seed, uint64_t counter0, double low, double high) = 0;
  virtual void random_normal(const Tensor& out, uint64_t seed, uint64_t counter0, double mean, double std) = 0;
  // Waits for all queued work of this device.
  virtual void synchronize() = 0;
};

Backend& cpu_backend();
// The CUDA backend; throws a clear Error in a CPU-only build or without a usable GPU.
Backend& cuda_backend();
Backend& backend_for(Device device);

// Copies bytes between devices (host<->device, device<->device). Synchronous with respect
// to the host for device->host copies.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);

}  // namespace ember
