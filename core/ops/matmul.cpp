// matmul: 2-D and batched GEMM through the backend (OpenBLAS on the CPU, cuBLAS on CUDA).
//
// Operands whose last two dims are row-major or transposed-row-major are passed to BLAS as
// they are (a transpose flag instead of a copy); anything else is made contiguous first.
#include "core/autograd/node.h"
#include "core/backend.h"
#include "core/ops.h"

namespace ember {

namespace {

struct Operand {
  Tensor data;   // what the backend reads
  bool trans;    // stored transposed
  int64_t ld;    // row stride as stored
  int64_t batch_stride;
};

// a is [rows, cols] or [batch, rows, cols].
Operand as_blas_operand(const Tensor& a) {
  const int nd = a.dim();
  const int64_t rows = a.size(nd - 2), cols = a.size(nd - 1);
  const int64_t s_rows = a.stride(nd - 2), s_cols = a.stride(nd - 1);
  auto batch_stride = [&](const Tensor& t) { return t.dim() == 3 ? (t.size(0) == 1 ? 0 : t.stride(0)) : 0; };
  if (s_cols == 1 && s_rows >= std::max<int64_t>(cols, 1)) return {a, false, s_rows, batch_stride(a)};
  if (s_rows == 1 && s_cols >= std::max<int64_t>(rows, 1)) return {a, true, s_cols, batch_stride(a)};
  Tensor c = a.contiguous();
  return {c, false, std::max<int64_t>(cols, 1), batch_stride(c)};
}

Tensor matmul_forward(const Tensor& a, const Tensor& b) {
  check_same_device(a, b, "matmul");
  check_same_dtype(a, b, "matmul");
  EMBER_CHECK(is_floating(a.dtype()), "matmul needs floating-point tensors, got {}", dtype_name(a.dtype()));
  EMBER_CHECK((a.dim() == 2 || a.dim() == 3) && (b.dim() == 2 || b.dim() == 3),
              "matmul supports 2-D and 3-D tensors, got shapes {} and {}", shape_str(a.sizes()), shape_str(b.sizes()));
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  EMBER_CHECK(b.size(-2) == k, "matmul: shapes {} and {} cannot be multiplied ({} != {})", shape_str(a.sizes()),
              shape_str(b.sizes()), k, b.size(-2));
  int64_t batch = 1;
  if (a.dim() == 3 || b.dim() == 3) {
    const int64_t ba = a.dim() == 3 ? a.size(0) : 1, bb = b.dim() == 3 ? b.size(0) : 1;
    EMBER_CHECK(ba == bb || ba == 1 || bb == 1, "matmul: batch sizes of {} and {} differ", shape_str(a.sizes()),
                shape_str(b.sizes()));
    batch = std::max(ba, bb);
  }
  const bool batched = a.dim() == 3 || b.dim() == 3;
  Tensor out = batched ? empty({batch, m, n}, a.options()) : empty({m, n}, a.options());
  if (out.numel() == 0) return out;
  if (k == 0) return out.fill_(0.0);
  Operand A = as_blas_operand(a.detach()), B = as_blas_operand(b.detach());
  GemmArgs args;
  args.trans_a = A.trans;
  args.trans_b = B.trans;
  args.m = m;
  args.n = n;
  args.k = k;
  args.lda = A.ld;
  args.ldb = B.ld;
  args.ldc = n;
  args.batch = batch;
  args.stride_a = A.batch_stride;
  args.stride_b = B.batch_stride;
  args.stride_c = m * n;
  backend_for(a.device()).gemm(args, A.data, B.data, out);
  return out;
}

struct MatmulBackward final : Node {
  Tensor a, b;
  std::vector<Tensor> apply(const Tensor& g) override {
    check_not_released();
    Tensor ga = matmul_forward(g, b.transpose(-1, -2));
    Tensor gb = matmul_forward(a.transpose(-1, -2), g);
    return {sum_to(ga, a.sizes()), sum_to(gb, b.sizes())};
  }
  const char* name() const override { return "MatmulBackward"; }
  void release_saved() override {
    a = Tensor();
    b = Tensor();
  }
};

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  Tensor out = matmul_forward(a, b);
  if (any_requires_grad({&a, &b})) {
    auto node = std::make_shared<MatmulBackward>();
    node->a = a.detach();
    node->b = b.detach();
    attach_node(node, {&a, &b}, out);
  }
  return out;
}

}  // namespace ember
