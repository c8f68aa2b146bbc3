// What the CUDA part of data/ (data/cuda/*.cpp) provides to the rest of it; a CPU-only build
// compiles data/cuda_unavailable.cpp instead (Note [optional CUDA] in the top CMakeLists.txt).
// Internal to data/, the same arrangement as core/cuda_hooks.h for core/.
#pragma once

#include <memory>

#include "data/producer.h"
#include "kernels/augment_rule.h"

namespace ember::data::detail {

// Queues the batch kernel on `stream` (a cudaStream_t; null: ember's stream) and checks the launch.
void augment_batch_cuda(const kernels::AugmentBatchArgs& args, void* stream);
// A producer that makes each batch on a second CUDA stream (data/cuda/stream_producer.cpp).
std::unique_ptr<BatchProducer> make_stream_producer();

}  // namespace ember::data::detail
