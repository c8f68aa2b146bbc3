// Per-process CUDA state of ember: the stream every op is queued on and the cuBLAS handle.
// One stream (not the legacy default stream) so that a training step can be captured into
// a CUDA graph and so that stream-ordered allocation stays ordered with the work.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace ember::cuda {

// ember's stream on device 0, the only device ember uses (Note [one GPU per process] in
// core/device.cpp); created on first use. The multiprocessor count is kernels/launch.h's.
cudaStream_t stream();
cublasHandle_t cublas_handle();
// Whether ember's stream is being captured into a CUDA graph (core/cuda_graph.h).
bool capturing();

}  // namespace ember::cuda
