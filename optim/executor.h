// The two executors of the fused optimiser step and of the gradient-norm reduction: the CPU
// one (optim/cpu_step.cpp) and the CUDA one (optim/cuda_step.cpp; optim/cuda_unavailable.cpp
// in a CPU-only build). Internal to optim/: callers use Optimizer and FlatParameters.
#pragma once

#include <cstdint>

#include "kernels/optim_flat.h"

namespace ember::optim::detail {

// One step over host buffers; args.segments points to the host segment table.
void cpu_fused_step(const kernels::FusedStepArgs& args);
// sqrt(sum grad^2), accumulated in double.
float cpu_grad_norm(const float* grad, int64_t n);
// grad *= min(1, max_norm / (norm + 1e-6)) (computed in float, NaN propagates).
void cpu_clip_by_norm(float* grad, int64_t n, float norm, float max_norm);

// The same on device buffers, queued on ember's stream.
void cuda_fused_step(const kernels::FusedStepArgs& args);
void cuda_grad_norm(const float* grad, int64_t n, float* norm, void* workspace);
void cuda_clip_by_norm(float* grad, int64_t n, const float* norm, float max_norm);
// Bytes of the workspace cuda_grad_norm needs (zeroed before first use).
int64_t cuda_grad_norm_workspace_bytes();

}  // namespace ember::optim::detail
