// Launchers of ember's batch-norm kernels (kernels/nn_batch_norm.cu): dense NCHW or NHWC
// (BnShape::nhwc) activations of type T - bfloat16, or float32 NHWC - with float32 weight,
// bias and statistics. cuDNN's batch norm takes float32/float64 activations only (PyTorch,
// too, runs bfloat16 batch norm on its own kernels). `partials` is scratch of
// bn_partials_floats() floats. Each returns the launch's cudaError_t.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/bfloat16.h"
#include "kernels/nn_batch_norm_rule.h"

namespace ember::kernels {

inline int64_t bn_partials_floats(const BnShape& s, int splits) { return s.channels * splits * 2; }

// y, save_mean, save_invstd and (when not null) the running statistics; `relu`: y is
// relu(batch_norm(x)) (kernels/nn_batch_norm_rule.h, bn_relu).
template <class T>
cudaError_t launch_batch_norm_forward_train(T* y, float* save_mean, float* save_invstd, float* running_mean,
                                            float* running_var, const T* x, const float* w, const float* b,
                                            float* partials, const BnShape& s, int splits, double momentum,
                                            double eps, bool relu, cudaStream_t stream);
template <class T>
cudaError_t launch_batch_norm_forward_eval(T* y, const T* x, const float* w, const float* b,
                                           const float* running_mean, const float* running_var, const BnShape& s,
                                           double eps, cudaStream_t stream);
// dx (type T), dw = sum(dy * xhat), db = sum(dy) per channel; `relu`: the backward of
// relu(batch_norm(x)), dy masked where the forward's output was 0 (b is read only then).
template <class T>
cudaError_t launch_batch_norm_backward(T* dx, float* dw, float* db, const T* dy, const T* x, const float* w,
                                       const float* b, const float* save_mean, const float* save_invstd,
                                       float* partials, const BnShape& s, int splits, bool relu,
                                       cudaStream_t stream);

}  // namespace ember::kernels
