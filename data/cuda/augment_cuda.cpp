// The CUDA executor of augment_batch: the launcher of kernels/augment.cu on a chosen stream.
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "data/cuda_hooks.h"
#include "kernels/augment.h"

namespace ember::data::detail {

void augment_batch_cuda(const kernels::AugmentBatchArgs& args, void* stream) {
  cudaStream_t s = stream ? static_cast<cudaStream_t>(stream) : cuda::stream();
  EMBER_CUDA_LAUNCH_CHECK(kernels::launch_augment_batch(args, s));
  // The launch check synchronises ember's stream in debug mode; a side stream needs its own.
  if (cuda::sync_after_launch() && s != cuda::stream()) EMBER_CUDA_CHECK(cudaStreamSynchronize(s));
}

}  // namespace ember::data::detail
