// Launcher of the CIFAR batch kernel (kernels/augment.cu): gathers the samples of one batch
// from a device-resident uint8 data set in epoch order, crops, flips and normalises them
// (kernels/augment_rule.h) into a float NCHW batch, and gathers their labels.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/augment_rule.h"  // AugmentBatchArgs

namespace ember::kernels {

// Queues the batch kernel on `stream`. cudaErrorInvalidValue for a misaligned out_images.
cudaError_t launch_augment_batch(const AugmentBatchArgs& args, cudaStream_t stream);

}  // namespace ember::kernels
