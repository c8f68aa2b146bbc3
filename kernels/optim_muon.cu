// Muon's element-wise passes on CUDA (rules: kernels/optim_muon_rule.h); the Newton-Schulz
// GEMMs between them are cuBLAS strided-batched calls issued by optim/cuda_step.cpp.
//   pack:      momentum, U -> bfloat16 X (transposed for tall matrices); grid-stride over
//              every matrix's elements;
//   normalize: one block per matrix: X /= max(||X||, eps) in bfloat16;
//   apply:     W = W (1 - lr wd) - adjusted_lr X^(T); grid-stride.
// Bytes: pack reads g and the buffer and writes the buffer and X (14 per parameter), apply
// reads and writes W and reads X (10); the GEMMs dominate.
#include "kernels/block_reduce.cuh"
#include "kernels/launch.cuh"
#include "kernels/optim_muon_rule.h"
#include "kernels/optim_step.h"

namespace ember::kernels {

namespace {

// Where one element of the last buffer the step used lies, and the kernels' arguments.
struct MuonKernelArgs {
  float* param;
  const float* grad;
  float* momentum_buffer;
  const MuonMatrix* matrices;
  int num_matrices;
  bfloat16* x;  // the X buffer this pass reads or writes
  OptimHyper hyper[kMaxOptimGroups];
  const double* device_lr;
};

__global__ void __launch_bounds__(kBlock) muon_pack_kernel(const MuonKernelArgs a) {
  const int64_t thread = global_thread(), threads = grid_stride();
  for (int m = 0; m < a.num_matrices; ++m) {
    const MuonMatrix w = a.matrices[m];
    const MuonMomentumStep s = muon_momentum_step(a.hyper[w.group]);
    const int64_t n = w.rows * w.cols;
    for (int64_t e = thread; e < n; e += threads) {
      float buffer = a.momentum_buffer[w.state_offset + e];
      const float u = muon_momentum(s, a.grad[w.param_offset + e], buffer);
      a.momentum_buffer[w.state_offset + e] = buffer;
      a.x[muon_x_index(w, e / w.cols, e % w.cols)] = bfloat16(u);
    }
  }
}

__global__ void __launch_bounds__(kBlock) muon_normalize_kernel(const MuonKernelArgs a) {
  const MuonMatrix w = a.matrices[blockIdx.x];
  bfloat16* x = a.x + w.x_offset;
  const int64_t n = w.rows * w.cols;
  double sum = 0;
  for (int64_t e = threadIdx.x; e < n; e += blockDim.x) {
    const double v = float(x[e]);
    sum += v * v;
  }
  sum = block_reduce(sum, SumOp{}, 0.0);
  const float norm = muon_norm(sum, a.hyper[w.group].eps);
  for (int64_t e = threadIdx.x; e < n; e += blockDim.x) x[e] = bfloat16(float(x[e]) / norm);
}

__global__ void __launch_bounds__(kBlock) muon_apply_kernel(const MuonKernelArgs a) {
  const int64_t thread = global_thread(), threads = grid_stride();
  for (int m = 0; m < a.num_matrices; ++m) {
    const MuonMatrix w = a.matrices[m];
    const double lr = a.device_lr != nullptr ? a.device_lr[w.group] : a.hyper[w.group].lr;
    const MuonApply apply = muon_apply(a.hyper[w.group], lr, w);
    const int64_t n = w.rows * w.cols;
    for (int64_t e = thread; e < n; e += threads) {
      float& p = a.param[w.param_offset + e];
      p = muon_apply_element(apply, p, float(a.x[muon_x_index(w, e / w.cols, e % w.cols)]));
    }
  }
}

MuonKernelArgs kernel_args(const MuonArgs& args, void* x) {
  MuonKernelArgs a{};
  a.param = args.param;
  a.grad = args.grad;
  a.momentum_buffer = args.momentum_buffer;
  a.matrices = args.matrices;
  a.num_matrices = args.num_matrices;
  a.x = static_cast<bfloat16*>(x);
  for (int g = 0; g < args.num_groups && g < kMaxOptimGroups; ++g) a.hyper[g] = args.hyper[g];
  a.device_lr = args.device_lr;
  return a;
}

int64_t total_elements(const MuonArgs& args) {
  int64_t n = 0;
  for (int b = 0; b < args.num_batches; ++b) n += args.batches[b].count * args.batches[b].m * args.batches[b].k;
  return n;
}

}  // namespace

cudaError_t launch_muon_pack(const MuonArgs& args, cudaStream_t stream) {
  if (args.num_matrices == 0) return cudaSuccess;
  muon_pack_kernel<<<grid_for(total_elements(args)), kBlock, 0, stream>>>(kernel_args(args, args.x[0]));
  muon_normalize_kernel<<<static_cast<unsigned>(args.num_matrices), kBlock, 0, stream>>>(kernel_args(args, args.x[0]));
  return cudaGetLastError();
}

cudaError_t launch_muon_apply(const MuonArgs& args, int x_buffer, cudaStream_t stream) {
  if (args.num_matrices == 0) return cudaSuccess;
  if (x_buffer < 0 || x_buffer > 1) return cudaErrorInvalidValue;
  muon_apply_kernel<<<grid_for(total_elements(args)), kBlock, 0, stream>>>(kernel_args(args, args.x[x_buffer]));
  return cudaGetLastError();
}

}  // namespace ember::kernels
