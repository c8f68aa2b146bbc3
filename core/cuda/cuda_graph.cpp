// CudaGraph (core/cuda_graph.h): stream capture of ember's stream in relaxed mode (the graph's
// memory pool may call cudaMalloc while capturing), instantiated once, launched per replay.
#include "core/cuda_graph.h"

#include <exception>
#include <string>

#include "core/cuda/cuda_allocator.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/device.h"

namespace ember {

struct CudaGraph::Impl {
  int device = 0;
  std::shared_ptr<GraphMemory> memory;
  cudaGraphExec_t exec = nullptr;
};

CudaGraph::CudaGraph() : impl_(std::make_unique<Impl>()) {
  check_device_usable(Device::cuda());  // the clear message when there is no GPU
  EMBER_CUDA_CHECK(cudaGetDevice(&impl_->device));
}

CudaGraph::~CudaGraph() {
  if (impl_->exec) {
    EMBER_CUDA_LOG_ERROR(cudaStreamSynchronize(cuda::stream()));  // no replay may be in flight
    EMBER_CUDA_LOG_ERROR(cudaGraphExecDestroy(impl_->exec));
  }
}

void CudaGraph::capture(const std::function<void()>& record) {
  EMBER_CHECK(!impl_->exec && !impl_->memory, "CudaGraph: a graph is captured only once");
  cudaStream_t stream = cuda::stream();
  impl_->memory = cuda::make_graph_memory();
  cuda::begin_graph_memory(impl_->device, impl_->memory);
  std::string failure;
  cudaError_t err = cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed);
  if (err != cudaSuccess) {
    cuda::end_graph_memory(impl_->device);
    EMBER_CUDA_CHECK(err);
  }
  try {
    record();
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "an exception that is not a std::exception";
  }
  cudaGraph_t graph = nullptr;
  err = cudaStreamEndCapture(stream, &graph);
  cuda::end_graph_memory(impl_->device);
  if (failure.empty() && err != cudaSuccess)
    failure = fmt::format("CUDA error {} ({}) at the end of the capture", cudaGetErrorName(err), cudaGetErrorString(err));
  if (failure.empty()) {
    err = cudaGraphInstantiate(&impl_->exec, graph, 0);
    if (err != cudaSuccess) {
      impl_->exec = nullptr;
      failure = fmt::format("CUDA error {} ({}) instantiating the graph", cudaGetErrorName(err), cudaGetErrorString(err));
    }
  }
  if (graph) EMBER_CUDA_LOG_ERROR(cudaGraphDestroy(graph));
  if (!failure.empty()) {
    cudaGetLastError();  // a failed capture leaves a non-sticky error behind
    EMBER_FAIL("CUDA graph capture failed: {}", failure);
  }
}

void CudaGraph::replay() {
  EMBER_CHECK(impl_->exec, "CudaGraph: replay() before a successful capture()");
  EMBER_CUDA_LAUNCH_CHECK(cudaGraphLaunch(impl_->exec, cuda::stream()));
}

bool CudaGraph::captured() const { return impl_->exec != nullptr; }

int64_t CudaGraph::pool_bytes() const { return impl_->memory ? impl_->memory->reserved_bytes() : 0; }

}  // namespace ember
