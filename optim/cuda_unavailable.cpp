// The CUDA executor of a CPU-only build (EMBER_CUDA=OFF): FlatParameters cannot be created on
// a CUDA device there (check_device_usable says so first), so these are never reached in
// correct use; they fail clearly anyway.
#include "core/error.h"
#include "optim/step_executors.h"

namespace ember::optim::detail {

namespace {
[[noreturn]] void no_cuda() {
  EMBER_FAIL("this build of ember has no CUDA support (configured with EMBER_CUDA=OFF); use the CPU");
}
}  // namespace

void cuda_fused_step(const kernels::FusedStepArgs&) { no_cuda(); }
void cuda_adafactor_step(const kernels::AdafactorArgs&) { no_cuda(); }
void cuda_blockwise8_step(const kernels::Blockwise8Args&) { no_cuda(); }
void cuda_muon_step(const kernels::MuonArgs&) { no_cuda(); }
void cuda_grad_norm(const float*, int64_t, float*, void*) { no_cuda(); }
void cuda_clip_by_norm(float*, int64_t, const float*, float) { no_cuda(); }
int64_t cuda_grad_norm_workspace_bytes() { no_cuda(); }

}  // namespace ember::optim::detail
