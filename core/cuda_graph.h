// CudaGraph: record the CUDA work of a piece of host code once, replay it with one launch.
//
//   CudaGraph graph;                        // on the current CUDA device
//   graph.capture([&] { step(static_images, static_labels); });   // recorded, not run
//   for (...) { static_images.copy_(next_images); graph.replay(); }
//
// What the captured code may do: queue work on ember's stream (every op does), allocate and
// free tensors. What it may not: synchronise with the host (item(), to_vector(), a copy to
// or from the host, a cuDNN algorithm search - warm up with an ordinary run first), or
// depend on host values that change between replays (pass those through device tensors,
// like the optimiser's capturable mode). Such a call fails the capture with an error that
// names CUDA's reason; the stream is usable again afterwards.
//
// Memory (Note [graph memory] in core/graph_memory.h): tensors allocated inside the capture
// live in the graph's private pool and keep their addresses; a replay writes into them
// again, so outputs the caller kept (e.g. the loss) hold the latest replay's values.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace ember {

class CudaGraph {
 public:
  // Throws ember::Error in a CPU-only build or without a usable CUDA device.
  CudaGraph();
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Runs `record` with ember's stream capturing. Only once per CudaGraph. If `record` throws
  // or CUDA refuses the capture, the capture is abandoned and ember::Error is thrown.
  void capture(const std::function<void()>& record);
  // Queues one run of the captured work on ember's stream (no host synchronisation).
  void replay();
  bool captured() const;
  // Bytes reserved by the graph's private memory pool.
  int64_t pool_bytes() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember
