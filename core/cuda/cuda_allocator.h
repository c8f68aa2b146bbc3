// What core/cuda/cuda_graph.cpp needs from the CUDA allocator: routing allocations and frees
// to a graph's memory while it is captured (Note [graph memory] in core/graph_memory.h).
#pragma once

#include <memory>

#include "core/graph_memory.h"

namespace ember::cuda {

// A pool whose blocks come from cudaMalloc and go back with cudaFree.
std::shared_ptr<GraphMemory> make_graph_memory();
// From begin to end, allocations on `device` come from `memory`, and ordinary blocks freed
// are kept by `memory` until it is destroyed.
void begin_graph_memory(int device, std::shared_ptr<GraphMemory> memory);
void end_graph_memory(int device);

}  // namespace ember::cuda
