// The CUDA executor: argument plumbing to the launchers in kernels/optim_step.h, queued on
// ember's stream, and Muon's Newton-Schulz iterations as cuBLAS strided-batched bfloat16 GEMMs.
#include <cublas_v2.h>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "kernels/optim_step.h"
#include "optim/step_executors.h"

namespace ember::optim::detail {

namespace {

// Row-major C = alpha op(A) op(B) + beta C over `count` matrices a `stride` apart, bfloat16
// in and out, float accumulation (torch's bfloat16 matmul on CUDA). cuBLAS is column-major:
// the row-major product is the column-major C^T = op(B)^T op(A)^T, so A and B swap.
struct BatchedGemm {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1, beta = 0;
  const void* a = nullptr;
  int64_t lda = 0, stride_a = 0;
  const void* b = nullptr;
  int64_t ldb = 0, stride_b = 0;
  void* c = nullptr;
  int64_t ldc = 0, stride_c = 0;
  int64_t count = 0;
};

void gemm(const BatchedGemm& g) {
  EMBER_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      cuda::cublas_handle(), g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
      static_cast<int>(g.n), static_cast<int>(g.m), static_cast<int>(g.k), &g.alpha, g.b, CUDA_R_16BF,
      static_cast<int>(g.ldb), g.stride_b, g.a, CUDA_R_16BF, static_cast<int>(g.lda), g.stride_a, &g.beta, g.c,
      CUDA_R_16BF, static_cast<int>(g.ldc), g.stride_c, static_cast<int>(g.count), CUBLAS_COMPUTE_32F,
      CUBLAS_GEMM_DEFAULT));
}

char* at(void* base, int64_t elements) { return static_cast<char*>(base) + 2 * elements; }  // bfloat16

// Note [Newton-Schulz launches]
// Iteration `it` of every batch: S = X X^T (one GEMM per batch), one copy of all Gram buffers
// (T's GEMM adds into a copy of S), T = b S + c S S (one per batch), one copy of all X
// buffers, X' = a X + T X (one per batch) into the other X buffer. A batch whose group does
// fewer iterations stops launching; the copies keep its result in both buffers from then on,
// so after max_ns_steps iterations every result is in x[max_ns_steps % 2]. Launches per step:
// 2 (pack, normalise) + max_ns_steps (3 batches + 2) + 1 (apply).
int newton_schulz(const kernels::MuonArgs& a) {
  int64_t x_total = 0, gram_total = 0;
  for (int i = 0; i < a.num_batches; ++i) {
    x_total += a.batches[i].count * a.batches[i].m * a.batches[i].k;
    gram_total += a.batches[i].count * a.batches[i].m * a.batches[i].m;
  }
  const cudaStream_t stream = cuda::stream();
  for (int64_t it = 0; it < a.max_ns_steps; ++it) {
    void *x = a.x[it % 2], *next = a.x[(it + 1) % 2];
    auto active = [&](const kernels::MuonBatch& b) { return it < static_cast<int64_t>(a.hyper[b.group].ns_steps); };
    for (int i = 0; i < a.num_batches; ++i) {
      const kernels::MuonBatch& b = a.batches[i];
      if (!active(b)) continue;
      gemm({false, true, b.m, b.m, b.k, 1.0f, 0.0f, at(x, b.x_offset), b.k, b.m * b.k, at(x, b.x_offset), b.k,
            b.m * b.k, at(a.gram[0], b.gram_offset), b.m, b.m * b.m, b.count});
    }
    EMBER_CUDA_CHECK(cudaMemcpyAsync(a.gram[1], a.gram[0], 2 * gram_total, cudaMemcpyDeviceToDevice, stream));
    for (int i = 0; i < a.num_batches; ++i) {
      const kernels::MuonBatch& b = a.batches[i];
      if (!active(b)) continue;
      const kernels::OptimHyper& h = a.hyper[b.group];
      gemm({false, false, b.m, b.m, b.m, float(h.ns_c), float(h.ns_b), at(a.gram[0], b.gram_offset), b.m, b.m * b.m,
            at(a.gram[0], b.gram_offset), b.m, b.m * b.m, at(a.gram[1], b.gram_offset), b.m, b.m * b.m, b.count});
    }
    EMBER_CUDA_CHECK(cudaMemcpyAsync(next, x, 2 * x_total, cudaMemcpyDeviceToDevice, stream));
    for (int i = 0; i < a.num_batches; ++i) {
      const kernels::MuonBatch& b = a.batches[i];
      if (!active(b)) continue;
      gemm({false, false, b.m, b.k, b.m, 1.0f, float(a.hyper[b.group].ns_a), at(a.gram[1], b.gram_offset), b.m,
            b.m * b.m, at(x, b.x_offset), b.k, b.m * b.k, at(next, b.x_offset), b.k, b.m * b.k, b.count});
    }
  }
  return static_cast<int>(a.max_ns_steps % 2);
}

}  // namespace

void cuda_fused_step(const kernels::FusedStepArgs& args) {
  EMBER_CUDA_LAUNCH_CHECK(kernels::launch_fused_step(args, cuda::stream()));
}

void cuda_blockwise8_step(const kernels::Blockwise8Args& args) {
  EMBER_CUDA_LAUNCH_CHECK(kernels::launch_blockwise8_step(args, cuda::stream()));
}

void cuda_adafactor_step(const kernels::AdafactorArgs& args) {
  EMBER_CUDA_LAUNCH_CHECK(kernels::launch_adafactor_step(args, cuda::stream()));
}

void cuda_muon_step(const kernels::MuonArgs& args) {
  EMBER_CUDA_LAUNCH_CHECK(kernels::launch_muon_pack(args, cuda::stream()));
  const int result = newton_schulz(args);
  EMBER_CUDA_LAUNCH_CHECK(kernels::launch_muon_apply(args, result, cuda::stream()));
}

void cuda_grad_norm(const float* grad, int64_t n, float* norm, void* workspace) {
  EMBER_CUDA_LAUNCH_CHECK(kernels::launch_grad_norm(grad, n, norm, workspace, cuda::stream()));
}

void cuda_clip_by_norm(float* grad, int64_t n, const float* norm, float max_norm) {
  EMBER_CUDA_LAUNCH_CHECK(kernels::launch_clip_by_norm(grad, n, norm, max_norm, cuda::stream()));
}

int64_t cuda_grad_norm_workspace_bytes() { return kernels::kGradNormWorkspaceBytes; }

}  // namespace ember::optim::detail
