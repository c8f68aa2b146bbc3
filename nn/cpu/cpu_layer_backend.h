// The CPU layer backend: convolutions as im2col + OpenBLAS GEMM (nn/cpu/conv2d_cpu.cpp),
// batch norm and pooling as plain loops (batch_norm_cpu.cpp, pooling_cpu.cpp), OpenMP over
// the batch or the channels. Float32 and float64.
#pragma once

#include <cblas.h>
#include <omp.h>

#include <type_traits>

#include "core/parallel.h"
#include "nn/layer_backend.h"

namespace ember::nn {

class CpuLayerBackend final : public LayerBackend {
 public:
  void conv2d_forward(const Conv2dGeometry& g, const Tensor& out, const Tensor& in, const Tensor& weight,
                      const Tensor& bias) override;
  void conv2d_backward_input(const Conv2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                             const Tensor& weight) override;
  void conv2d_backward_weight(const Conv2dGeometry& g, const Tensor& grad_weight, const Tensor& grad_bias,
                              const Tensor& grad_out, const Tensor& in) override;
  void batch_norm_forward_train(const BatchNormTrainArgs& a) override;
  void batch_norm_forward_eval(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias,
                               const Tensor& running_mean, const Tensor& running_var, double eps) override;
  void batch_norm_backward(const BatchNormBackwardArgs& a) override;
  void max_pool2d_forward(const Pool2dGeometry& g, const Tensor& out, const Tensor& indices,
                          const Tensor& in) override;
  void max_pool2d_backward(const Pool2dGeometry& g, const Tensor& grad_in, const Tensor& grad_out,
                           const Tensor& indices) override;
};

namespace cpu {

// Below this many elements of work a loop stays on one thread (thread start-up costs more).
// Parallel regions name their team size, num_threads() (core/parallel.h), like core's
// loops: OpenMP's default is per calling thread, and layers may run on any thread.
constexpr int64_t kParallelGrain = 32768;

// Row-major GEMM C = alpha op(A) op(B) + beta C in float or double.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  const auto ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

// Note [batch-parallel GEMM]
// When a layer's work splits into at least as many independent GEMMs as there are OpenMP
// threads (chunks of samples, Note [conv GEMM chunks] in conv2d_cpu.cpp), each thread takes
// whole GEMMs and OpenBLAS runs single-threaded inside, set for the scope of this guard:
// OpenBLAS's pthread build would otherwise start its own threads from every OpenMP thread
// and oversubscribe the cores. With fewer GEMMs than threads they run one after another and
// OpenBLAS threads each itself.
class BlasSingleThreadScope {
 public:
  explicit BlasSingleThreadScope(bool active) : previous_(active ? openblas_get_num_threads() : 0) {
    if (previous_ > 1) openblas_set_num_threads(1);
  }
  ~BlasSingleThreadScope() {
    if (previous_ > 1) openblas_set_num_threads(previous_);
  }
  BlasSingleThreadScope(const BlasSingleThreadScope&) = delete;
  BlasSingleThreadScope& operator=(const BlasSingleThreadScope&) = delete;

 private:
  int previous_;
};

}  // namespace cpu
}  // namespace ember::nn
