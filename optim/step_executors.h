// The step executors of optim/: the CPU and CUDA implementations of each optimiser kind's
// step (element-wise fused step, Adafactor, Muon) and of the gradient-norm reduction, behind
// one declaration each. CPU: optim/cpu_step.cpp, cpu_adafactor.cpp, cpu_muon.cpp; CUDA:
// optim/cuda_step.cpp (launchers in kernels/), or optim/cuda_unavailable.cpp in a CPU-only
// build. Internal to optim/: callers use Optimizer and FlatParameters.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/optim_adafactor_rule.h"
#include "kernels/optim_blockwise8_rule.h"
#include "kernels/optim_flat.h"
#include "kernels/optim_muon_rule.h"

namespace ember::optim::detail {

// One step over host buffers; args.segments points to the host segment table.
void cpu_fused_step(const kernels::FusedStepArgs& args);
void cpu_adafactor_step(const kernels::AdafactorArgs& args);
// The 8-bit block-wise step (optim/cpu_blockwise8.cpp); args.blocks on the host.
void cpu_blockwise8_step(const kernels::Blockwise8Args& args);
// args.scratch: num_threads() * args.scratch_per_thread floats, scratch_per_thread at least
// cpu_muon_scratch_per_thread(matrices).
void cpu_muon_step(const kernels::MuonArgs& args);
int64_t cpu_muon_scratch_per_thread(const std::vector<kernels::MuonMatrix>& matrices);
// sqrt(sum grad^2), accumulated in double.
float cpu_grad_norm(const float* grad, int64_t n);
// grad *= min(1, max_norm / (norm + 1e-6)) (computed in float, NaN propagates).
void cpu_clip_by_norm(float* grad, int64_t n, float norm, float max_norm);

// The same on device buffers, queued on ember's stream. cuda_muon_step's args.x and
// args.gram are bfloat16 buffers of the sizes muon_workspace_elements gives.
void cuda_fused_step(const kernels::FusedStepArgs& args);
void cuda_adafactor_step(const kernels::AdafactorArgs& args);
void cuda_blockwise8_step(const kernels::Blockwise8Args& args);
void cuda_muon_step(const kernels::MuonArgs& args);
void cuda_grad_norm(const float* grad, int64_t n, float* norm, void* workspace);
void cuda_clip_by_norm(float* grad, int64_t n, const float* norm, float max_norm);
// Bytes of the workspace cuda_grad_norm needs (zeroed before first use).
int64_t cuda_grad_norm_workspace_bytes();

}  // namespace ember::optim::detail
