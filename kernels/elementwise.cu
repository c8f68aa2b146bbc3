// Elementwise CUDA kernels: unary, binary (broadcasting through strides), copy with dtype
// conversion, fill, arange. Each op is a template parameter so the per-element switch in
// kernels/elementwise_ops.h folds away. Four bodies per op: flat (contiguous operands, no
// index math) or strided (kernels/strided_index.h), each with 32-bit indices (every index
// and offset below 2^31: multiply-shift divisions, Note [multiply-shift division]) or 64-bit
// ones (larger tensors: 64-bit divisions).
// Bytes moved: one read per input and one write per element; these kernels are
// bandwidth-bound and rarely on ember's hot path (layers and optimisers have their own).
#include <cstdint>

#include "kernels/convert.h"
#include "kernels/elementwise.h"
#include "kernels/launch.cuh"

namespace ember::kernels {

namespace {

// One kernel body for every elementwise op: f(offsets) over n items, with 32-bit indices
// (Index = StridedIndex32, I = uint32_t: n and every offset < 2^31, so i + stride never
// wraps) or 64-bit ones (StridedIndex64, int64_t). Flat: every operand's offset is i.
template <int N, bool Flat, class F, class Index, class I>
__global__ void __launch_bounds__(kBlock) elementwise_kernel(F f, Index index, I n) {
  for (I i = I(global_thread()); i < n; i += I(grid_stride())) {
    I off[N];
    if constexpr (Flat) {
      for (int k = 0; k < N; ++k) off[k] = i;
    } else {
      index.offsets(i, off);
    }
    f(off);
  }
}

template <int N, bool Flat, class F, class Index, class I>
void launch_walk(F f, const Index& index, I n, cudaStream_t stream) {
  elementwise_kernel<N, Flat><<<grid_for(int64_t(n)), kBlock, 0, stream>>>(f, index, n);
}

template <int N, class F>
cudaError_t launch_elementwise(F f, const StridedLayout<N>& layout, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  const bool flat = is_flat(layout);
  if (fits_index32(layout, n)) {
    const StridedIndex32<N> index = flat ? StridedIndex32<N>() : StridedIndex32<N>(layout);
    const auto count = static_cast<uint32_t>(n);
    if (flat) launch_walk<N, true>(f, index, count, stream);
    else launch_walk<N, false>(f, index, count, stream);
  } else {
    const StridedIndex64<N> index{layout};
    if (flat) launch_walk<N, true>(f, index, n, stream);
    else launch_walk<N, false>(f, index, n, stream);
  }
  return cudaGetLastError();
}

template <class T, UnaryOp Op>
struct UnaryFn {
  using A = accumulator_t<T>;
  T* out;
  const T* in;
  A s;
  template <class I>
  __device__ void operator()(const I* off) const { out[off[0]] = T(apply_unary<A>(Op, A(in[off[1]]), s)); }
};

template <class T, BinaryOp Op>
struct ArithFn {
  using A = accumulator_t<T>;
  T* out;
  const T* a;
  const T* b;
  A alpha;
  template <class I>
  __device__ void operator()(const I* off) const {
    out[off[0]] = T(apply_binary_arith<A>(Op, A(a[off[1]]), A(b[off[2]]), alpha));
  }
};

template <class T, BinaryOp Op>
struct CompareFn {
  uint8_t* out;
  const T* a;
  const T* b;
  template <class I>
  __device__ void operator()(const I* off) const { out[off[0]] = apply_comparison(Op, a[off[1]], b[off[2]]); }
};

template <class D, class S>
struct CopyFn {
  D* dst;
  const S* src;
  template <class I>
  __device__ void operator()(const I* off) const { dst[off[0]] = convert_value<D>(src[off[1]]); }
};

template <class T>
struct FillFn {
  T* dst;
  T value;
  template <class I>
  __device__ void operator()(const I* off) const { dst[off[0]] = value; }
};

template <class T>
struct ArangeFn {
  T* out;
  double start, step;
  template <class I>
  __device__ void operator()(const I* off) const { out[off[0]] = convert_value<T>(start + double(off[0]) * step); }
};

}  // namespace

template <class T>
cudaError_t launch_unary(UnaryOp op, T* out, const T* in, accumulator_t<T> scalar, const StridedLayout<2>& layout,
                         int64_t n, cudaStream_t stream) {
  switch (op) {
#define EMBER_UNARY_CASE(OP) \
  case UnaryOp::OP: return launch_elementwise(UnaryFn<T, UnaryOp::OP>{out, in, scalar}, layout, n, stream);
    EMBER_UNARY_CASE(Neg) EMBER_UNARY_CASE(Exp) EMBER_UNARY_CASE(Log) EMBER_UNARY_CASE(Sqrt)
    EMBER_UNARY_CASE(Rsqrt) EMBER_UNARY_CASE(Abs) EMBER_UNARY_CASE(Sign) EMBER_UNARY_CASE(Relu)
    EMBER_UNARY_CASE(Square) EMBER_UNARY_CASE(Reciprocal) EMBER_UNARY_CASE(Pow)
    EMBER_UNARY_CASE(AddScalar) EMBER_UNARY_CASE(MulScalar)
#undef EMBER_UNARY_CASE
  }
  return cudaErrorInvalidValue;
}

template <class T>
cudaError_t launch_binary(BinaryOp op, void* out, const T* a, const T* b, accumulator_t<T> alpha,
                          const StridedLayout<3>& layout, int64_t n, cudaStream_t stream) {
  T* o = static_cast<T*>(out);
  uint8_t* m = static_cast<uint8_t*>(out);
  switch (op) {
#define EMBER_ARITH_CASE(OP) \
  case BinaryOp::OP: return launch_elementwise(ArithFn<T, BinaryOp::OP>{o, a, b, alpha}, layout, n, stream);
#define EMBER_COMPARE_CASE(OP) \
  case BinaryOp::OP: return launch_elementwise(CompareFn<T, BinaryOp::OP>{m, a, b}, layout, n, stream);
    EMBER_ARITH_CASE(Add) EMBER_ARITH_CASE(Sub) EMBER_ARITH_CASE(Mul) EMBER_ARITH_CASE(Div)
    EMBER_ARITH_CASE(Maximum) EMBER_ARITH_CASE(Minimum) EMBER_ARITH_CASE(ThresholdBackward)
    EMBER_COMPARE_CASE(Eq) EMBER_COMPARE_CASE(Ne) EMBER_COMPARE_CASE(Lt) EMBER_COMPARE_CASE(Le)
    EMBER_COMPARE_CASE(Gt) EMBER_COMPARE_CASE(Ge)
#undef EMBER_ARITH_CASE
#undef EMBER_COMPARE_CASE
  }
  return cudaErrorInvalidValue;
}

template <class D, class S>
cudaError_t launch_copy(D* dst, const S* src, const StridedLayout<2>& layout, int64_t n, cudaStream_t stream) {
  return launch_elementwise(CopyFn<D, S>{dst, src}, layout, n, stream);
}

template <class T>
cudaError_t launch_fill(T* dst, T value, const StridedLayout<1>& layout, int64_t n, cudaStream_t stream) {
  return launch_elementwise(FillFn<T>{dst, value}, layout, n, stream);
}

template <class T>
cudaError_t launch_arange(T* out, double start, double step, int64_t n, cudaStream_t stream) {
  StridedLayout<1> layout;
  layout.ndim = 1;
  layout.sizes[0] = n;
  layout.strides[0][0] = 1;
  return launch_elementwise(ArangeFn<T>{out, start, step}, layout, n, stream);
}

#define EMBER_FLOATING_INSTANTIATE(T)                                                                     \
  template cudaError_t launch_unary<T>(UnaryOp, T*, const T*, accumulator_t<T>, const StridedLayout<2>&, int64_t, \
                                       cudaStream_t);
EMBER_FLOATING_INSTANTIATE(float)
EMBER_FLOATING_INSTANTIATE(double)
EMBER_FLOATING_INSTANTIATE(bfloat16)

#define EMBER_ALL_INSTANTIATE(T)                                                                              \
  template cudaError_t launch_binary<T>(BinaryOp, void*, const T*, const T*, accumulator_t<T>,                \
                                        const StridedLayout<3>&, int64_t, cudaStream_t);                      \
  template cudaError_t launch_fill<T>(T*, T, const StridedLayout<1>&, int64_t, cudaStream_t);                \
  template cudaError_t launch_arange<T>(T*, double, double, int64_t, cudaStream_t);                          \
  template cudaError_t launch_copy<T, float>(T*, const float*, const StridedLayout<2>&, int64_t, cudaStream_t); \
  template cudaError_t launch_copy<T, double>(T*, const double*, const StridedLayout<2>&, int64_t, cudaStream_t); \
  template cudaError_t launch_copy<T, int64_t>(T*, const int64_t*, const StridedLayout<2>&, int64_t, cudaStream_t); \
  template cudaError_t launch_copy<T, int32_t>(T*, const int32_t*, const StridedLayout<2>&, int64_t, cudaStream_t); \
  template cudaError_t launch_copy<T, uint8_t>(T*, const uint8_t*, const StridedLayout<2>&, int64_t, cudaStream_t); \
  template cudaError_t launch_copy<T, bfloat16>(T*, const bfloat16*, const StridedLayout<2>&, int64_t, cudaStream_t);
EMBER_ALL_INSTANTIATE(float)
EMBER_ALL_INSTANTIATE(double)
EMBER_ALL_INSTANTIATE(int64_t)
EMBER_ALL_INSTANTIATE(int32_t)
EMBER_ALL_INSTANTIATE(uint8_t)
EMBER_ALL_INSTANTIATE(bfloat16)

}  // namespace ember::kernels
