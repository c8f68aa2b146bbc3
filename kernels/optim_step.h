// Launchers of the optimiser kernels (kernels/optim_step.cu, optim_adafactor.cu, optim_muon.cu,
// optim_clip.cu).
// Each returns the launch's cudaError_t; optim/ wraps it in EMBER_CUDA_LAUNCH_CHECK.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/optim_adafactor_rule.h"
#include "kernels/optim_blockwise8_rule.h"
#include "kernels/optim_flat.h"
#include "kernels/optim_muon_rule.h"

namespace ember::kernels {

// One optimiser step over every segment of args: ONE kernel launch. All pointers are device
// pointers (Note [flat buffer alignment]); the hyperparameters travel as kernel arguments.
cudaError_t launch_fused_step(const FusedStepArgs& args, cudaStream_t stream);

// The 8-bit block-wise step (kernels/optim_blockwise8.cu): one launch, one block per
// 256-element block.
cudaError_t launch_blockwise8_step(const Blockwise8Args& args, cudaStream_t stream);

// Adafactor's step (kernels/optim_adafactor.cu): three launches, one block per chunk.
cudaError_t launch_adafactor_step(const AdafactorArgs& args, cudaStream_t stream);

// Muon's element-wise passes (kernels/optim_muon.cu); args.x are bfloat16 buffers. pack:
// momentum and the normalised bfloat16 X into args.x[0] (two launches); apply: the update
// from args.x[x_buffer], where the Newton-Schulz iterations left it (one launch).
cudaError_t launch_muon_pack(const MuonArgs& args, cudaStream_t stream);
cudaError_t launch_muon_apply(const MuonArgs& args, int x_buffer, cudaStream_t stream);

// Blocks the gradient-norm reduction uses at most (the workspace holds one double each).
constexpr int kMaxNormBlocks = 1024;
// Workspace of launch_grad_norm: kMaxNormBlocks doubles then one counter, zeroed before the
// first use (the kernel leaves the counter at zero again).
constexpr int64_t kGradNormWorkspaceBytes = kMaxNormBlocks * 8 + 8;

// norm[0] = sqrt(sum of grad[i]^2) over n elements (double accumulation, deterministic for a
// given n and device). grad must be 16-byte aligned.
cudaError_t launch_grad_norm(const float* grad, int64_t n, float* norm, void* workspace, cudaStream_t stream);
// grad *= min(1, max_norm / (norm[0] + 1e-6)), norm read on the device (no host sync).
cudaError_t launch_clip_by_norm(float* grad, int64_t n, const float* norm, float max_norm, cudaStream_t stream);

}  // namespace ember::kernels
