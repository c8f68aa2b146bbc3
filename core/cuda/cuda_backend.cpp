// The CUDA backend: argument plumbing from Tensors to the launchers in kernels/ and to
// cuBLAS. All work is queued on ember's stream (core/cuda/cuda_context.h).
#include <limits>

#include "core/backend.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/strided_layout.h"
#include "kernels/convert.h"
#include "kernels/elementwise.h"
#include "kernels/random.h"
#include "kernels/reduce.h"
#include "kernels/softmax.h"

namespace ember {

namespace {

template <class T> T* ptr(const Tensor& t) { return static_cast<T*>(t.raw_data()); }

// cuBLAS takes sizes, leading dimensions and the batch count as int (its strides are 64-bit):
// larger values are a clear error, never a silent wrap.
int cublas_int(int64_t value, const char* what) {
  EMBER_CHECK(value >= 0 && value <= std::numeric_limits<int>::max(),
              "matmul on CUDA: {} = {} does not fit cuBLAS's 32-bit arguments (at most {}); split the product",
              what, value, std::numeric_limits<int>::max());
  return static_cast<int>(value);
}

// GemmArgs narrowed for cuBLAS, each value checked.
struct CublasGemmSizes {
  explicit CublasGemmSizes(const GemmArgs& g)
      : m(cublas_int(g.m, "m")), n(cublas_int(g.n, "n")), k(cublas_int(g.k, "k")), lda(cublas_int(g.lda, "lda")),
        ldb(cublas_int(g.ldb, "ldb")), ldc(cublas_int(g.ldc, "ldc")), batch(cublas_int(g.batch, "batch")) {}
  int m, n, k, lda, ldb, ldc, batch;
};

class CudaBackend final : public Backend {
 public:
  void copy(const Tensor& dst, const Tensor& src) override {
    const auto layout = make_strided_layout<2>({&dst, &src});
    dispatch_dtype(dst.dtype(), [&](auto dt) {
      using D = typename decltype(dt)::type;
      dispatch_dtype(src.dtype(), [&](auto st) {
        using S = typename decltype(st)::type;
        EMBER_CUDA_LAUNCH_CHECK(kernels::launch_copy<D, S>(ptr<D>(dst), ptr<S>(src), layout, dst.numel(), cuda::stream()));
      });
    });
  }

  void fill(const Tensor& dst, double value) override {
    const auto layout = make_strided_layout<1>({&dst});
    dispatch_dtype(dst.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      EMBER_CUDA_LAUNCH_CHECK(
          kernels::launch_fill<T>(ptr<T>(dst), kernels::convert_value<T>(value), layout, dst.numel(), cuda::stream()));
    });
  }

  void unary(UnaryOp op, const Tensor& out, const Tensor& in, double scalar) override {
    const auto layout = make_strided_layout<2>({&out, &in});
    dispatch_floating_bf16(in.dtype(), "unary op", [&](auto tag) {
      using T = typename decltype(tag)::type;
      EMBER_CUDA_LAUNCH_CHECK(kernels::launch_unary<T>(op, ptr<T>(out), ptr<T>(in),
                                                       static_cast<accumulator_t<T>>(scalar), layout, out.numel(),
                                                       cuda::stream()));
    });
  }

  void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, double alpha) override {
    const auto layout = make_strided_layout<3>({&out, &a, &b});
    dispatch_dtype(a.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      EMBER_CUDA_LAUNCH_CHECK(kernels::launch_binary<T>(op, out.raw_data(), ptr<T>(a), ptr<T>(b),
                                                        static_cast<accumulator_t<T>>(alpha), layout, out.numel(),
                                                        cuda::stream()));
    });
  }

  void reduce(ReduceOp op, const Tensor& out, const Tensor& indices, const Tensor& in, int64_t outer, int64_t n,
              int64_t inner) override {
    auto run = [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (op == ReduceOp::Sum) {
        EMBER_CUDA_LAUNCH_CHECK(kernels::launch_reduce_sum<T>(ptr<T>(out), ptr<T>(in), outer, n, inner, cuda::stream()));
      } else {
        int64_t* idx = indices.defined() ? ptr<int64_t>(indices) : nullptr;
        EMBER_CUDA_LAUNCH_CHECK(
            kernels::launch_reduce_max<T>(ptr<T>(out), idx, ptr<T>(in), outer, n, inner, cuda::stream()));
      }
    };
    switch (in.dtype()) {
      case DType::Float32: run(TypeTag<float>{}); break;
      case DType::Float64: run(TypeTag<double>{}); break;
      case DType::Int64: run(TypeTag<int64_t>{}); break;
      case DType::BFloat16:  // sums only (in a float accumulator): mixed-precision layers need no max
        EMBER_CHECK(op == ReduceOp::Sum, "max over bfloat16 is not supported on CUDA; convert to float32 first");
        EMBER_CUDA_LAUNCH_CHECK(kernels::launch_reduce_sum<bfloat16>(ptr<bfloat16>(out), ptr<bfloat16>(in), outer, n,
                                                                     inner, cuda::stream()));
        break;
      default: EMBER_FAIL("reduction over {} is not supported on CUDA", dtype_name(in.dtype()));
    }
  }

  void gemm(const GemmArgs& g, const Tensor& a, const Tensor& b, const Tensor& c) override {
    // cuBLAS is column-major: row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T,
    // i.e. the same call with A and B swapped and m and n swapped.
    const cublasOperation_t ta = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t tb = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasHandle_t h = cuda::cublas_handle();
    const CublasGemmSizes z(g);
    if (c.dtype() == DType::Float32) {
      const float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
      EMBER_CUBLAS_CHECK(cublasSgemmStridedBatched(h, tb, ta, z.n, z.m, z.k, &alpha, ptr<float>(b), z.ldb, g.stride_b,
                                                   ptr<float>(a), z.lda, g.stride_a, &beta, ptr<float>(c), z.ldc,
                                                   g.stride_c, z.batch));
    } else if (c.dtype() == DType::Float64) {
      EMBER_CUBLAS_CHECK(cublasDgemmStridedBatched(h, tb, ta, z.n, z.m, z.k, &g.alpha, ptr<double>(b), z.ldb,
                                                   g.stride_b, ptr<double>(a), z.lda, g.stride_a, &g.beta,
                                                   ptr<double>(c), z.ldc, g.stride_c, z.batch));
    } else {
      EMBER_FAIL("gemm needs floating-point tensors, got {}", dtype_name(c.dtype()));
    }
  }

  void log_softmax(const Tensor& out, const Tensor& in) override {
    const int64_t cols = in.size(-1), rows = in.numel() / cols;
    dispatch_floating(in.dtype(), "log_softmax", [&](auto tag) {
      using T = typename decltype(tag)::type;
      EMBER_CUDA_LAUNCH_CHECK(kernels::launch_log_softmax<T>(ptr<T>(out), ptr<T>(in), rows, cols, cuda::stream()));
    });
  }

  void log_softmax_backward(const Tensor& grad_in, const Tensor& grad_out, const Tensor& out) override {
    const int64_t cols = out.size(-1), rows = out.numel() / cols;
    dispatch_floating(out.dtype(), "log_softmax_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      EMBER_CUDA_LAUNCH_CHECK(kernels::launch_log_softmax_backward<T>(ptr<T>(grad_in), ptr<T>(grad_out), ptr<T>(out),
                                                                      rows, cols, cuda::stream()));
    });
  }

  void cross_entropy(const Tensor& losses, const Tensor& logits, const Tensor& targets, double eps) override {
    dispatch_floating(logits.dtype(), "cross_entropy", [&](auto tag) {
      using T = typename decltype(tag)::type;
      EMBER_CUDA_LAUNCH_CHECK(kernels::launch_cross_entropy<T>(ptr<T>(losses), ptr<T>(logits), ptr<int64_t>(targets),
                                                               logits.size(0), logits.size(1), eps, cuda::stream()));
    });
  }

  void cross_entropy_backward(const Tensor& grad_logits, const Tensor& logits, const Tensor& targets,
                              const Tensor& grad_loss, double scale, double eps) override {
    dispatch_floating(logits.dtype(), "cross_entropy_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      EMBER_CUDA_LAUNCH_CHECK(kernels::launch_cross_entropy_backward<T>(
          ptr<T>(grad_logits), ptr<T>(logits), ptr<int64_t>(targets), ptr<T>(grad_loss), logits.size(0),
          logits.size(1), scale, eps, cuda::stream()));
    });
  }

  void arange(const Tensor& out, double start, double step) override {
    dispatch_dtype(out.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      EMBER_CUDA_LAUNCH_CHECK(kernels::launch_arange<T>(ptr<T>(out), start, step, out.numel(), cuda::stream()));
    });
  }

  void random_uniform(const Tensor& out, uint64_t seed, uint64_t counter0, double low, double high) override {
    dispatch_floating(out.dtype(), "random_uniform", [&](auto tag) {
      using T = typename decltype(tag)::type;
      EMBER_CUDA_LAUNCH_CHECK(
          kernels::launch_random_uniform<T>(ptr<T>(out), out.numel(), seed, counter0, low, high, cuda::stream()));
    });
  }

  void random_normal(const Tensor& out, uint64_t seed, uint64_t counter0, double mean, double std) override {
    dispatch_floating(out.dtype(), "random_normal", [&](auto tag) {
      using T = typename decltype(tag)::type;
      EMBER_CUDA_LAUNCH_CHECK(
          kernels::launch_random_normal<T>(ptr<T>(out), out.numel(), seed, counter0, mean, std, cuda::stream()));
    });
  }

  void synchronize() override { EMBER_CUDA_CHECK(cudaStreamSynchronize(cuda::stream())); }
};

}  // namespace

Backend& cuda_backend() {
  check_device_usable(Device::cuda(0));
  static CudaBackend backend;
  return backend;
}

}  // namespace ember
