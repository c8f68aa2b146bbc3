// The CUDA executor: argument plumbing to the launchers in kernels/optim_step.h, queued on
// ember's stream.
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "kernels/optim_step.h"
#include "optim/executor.h"

namespace ember::optim::detail {

void cuda_fused_step(const kernels::FusedStepArgs& args) {
  EMBER_CUDA_LAUNCH_CHECK(kernels::launch_fused_step(args, cuda::stream()));
}

void cuda_grad_norm(const float* grad, int64_t n, float* norm, void* workspace) {
  EMBER_CUDA_LAUNCH_CHECK(kernels::launch_grad_norm(grad, n, norm, workspace, cuda::stream()));
}

void cuda_clip_by_norm(float* grad, int64_t n, const float* norm, float max_norm) {
  EMBER_CUDA_LAUNCH_CHECK(kernels::launch_clip_by_norm(grad, n, norm, max_norm, cuda::stream()));
}

int64_t cuda_grad_norm_workspace_bytes() { return kernels::kGradNormWorkspaceBytes; }

}  // namespace ember::optim::detail
