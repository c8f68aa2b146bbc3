// Launchers of the elementwise CUDA kernels (kernels/elementwise.cu). Each returns the
// launch's cudaError_t; core wraps it in EMBER_CUDA_LAUNCH_CHECK.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/bfloat16.h"
#include "kernels/elementwise_ops.h"
#include "kernels/strided_index.h"

namespace ember::kernels {

// out[off0] = op(in[off1], scalar) over the layout's n elements. Scalars and the arithmetic
// are in accumulator_t<T> (float for bfloat16: a mean's 1/n is not rounded to 8 bits), the
// result rounded once to T.
template <class T>
cudaError_t launch_unary(UnaryOp op, T* out, const T* in, accumulator_t<T> scalar, const StridedLayout<2>& layout,
                         int64_t n, cudaStream_t stream);
// out[off0] = op(a[off1], b[off2]); out is uint8_t* for comparisons, T* otherwise.
template <class T>
cudaError_t launch_binary(BinaryOp op, void* out, const T* a, const T* b, accumulator_t<T> alpha,
                          const StridedLayout<3>& layout, int64_t n, cudaStream_t stream);
template <class D, class S>
cudaError_t launch_copy(D* dst, const S* src, const StridedLayout<2>& layout, int64_t n, cudaStream_t stream);
template <class T>
cudaError_t launch_fill(T* dst, T value, const StridedLayout<1>& layout, int64_t n, cudaStream_t stream);
template <class T>
cudaError_t launch_arange(T* out, double start, double step, int64_t n, cudaStream_t stream);

}  // namespace ember::kernels
