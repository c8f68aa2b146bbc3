#include "core/cuda/cuda_context.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "core/cuda/cuda_check.h"

namespace ember::cuda {

namespace {

constexpr size_t kCublasWorkspaceBytes = size_t(32) << 20;

struct Context {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
};

// Created once and deliberately never destroyed: tensors freed during static destruction
// still need the stream, and the driver reclaims everything at exit.
Context& context() {
  static Context* ctx = [] {
    auto* c = new Context();
    EMBER_CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    EMBER_CUBLAS_CHECK(cublasCreate(&c->cublas));
    EMBER_CUBLAS_CHECK(cublasSetStream(c->cublas, c->stream));
    // A workspace of cuBLAS's own from the start, so that a call inside a CUDA-graph capture
    // never makes cuBLAS allocate one (PyTorch does the same; 32 MiB is its size for Hopper).
    void* workspace = nullptr;
    EMBER_CUDA_CHECK(cudaMalloc(&workspace, kCublasWorkspaceBytes));
    EMBER_CUBLAS_CHECK(cublasSetWorkspace(c->cublas, workspace, kCublasWorkspaceBytes));
    return c;
  }();
  return *ctx;
}

}  // namespace

cudaStream_t stream() { return context().stream; }
cublasHandle_t cublas_handle() { return context().cublas; }

bool capturing() {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream(), &status) != cudaSuccess) {
    cudaGetLastError();  // a query: its failure must not be reported by the next launch check
    return false;
  }
  return status == cudaStreamCaptureStatusActive;
}

bool sync_after_launch() {
#ifdef EMBER_CUDA_SYNC_CHECK_DEFAULT
  static const bool enabled = true;
#else
  static const bool enabled = [] {
    const char* env = std::getenv("EMBER_CUDA_SYNC");
    return env != nullptr && env[0] == '1';
  }();
#endif
  return enabled;
}

void check_launch(cudaError_t err, const char* expr, const char* file, int line) {
  // Not while capturing a graph: a synchronisation would end the capture.
  if (err == cudaSuccess && sync_after_launch() && !capturing()) err = cudaStreamSynchronize(stream());
  if (err != cudaSuccess)
    throw_error(file, line,
                fmt::format("CUDA error {} ({}) in {}", cudaGetErrorName(err), cudaGetErrorString(err), expr));
}

void log_if_error(cudaError_t err, const char* expr, const char* file, int line) {
  if (err != cudaSuccess)
    std::fprintf(stderr, "ember: CUDA error %s (%s) in %s at %s:%d (ignored in a destructor)\n", cudaGetErrorName(err),
                 cudaGetErrorString(err), expr, file, line);
}

const char* cublas_status_string(cublasStatus_t status) { return cublasGetStatusString(status); }

}  // namespace ember::cuda
