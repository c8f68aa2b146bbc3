// The CUDA entry points of a CPU-only build (EMBER_CUDA=OFF): report "not built" clearly.
#include "core/allocator.h"
#include "core/backend.h"
#include "core/cuda_graph.h"
#include "core/cuda_hooks.h"
#include "core/error.h"
#include "core/readback_impl.h"

namespace ember {

namespace {
[[noreturn]] void no_cuda() {
  EMBER_FAIL("this build of ember has no CUDA support (configured with EMBER_CUDA=OFF); use the CPU");
}
}  // namespace

bool cuda_built() { return false; }
Backend& cuda_backend() { no_cuda(); }
Allocator& cuda_allocator(int) { no_cuda(); }

struct CudaGraph::Impl {};
CudaGraph::CudaGraph() { no_cuda(); }
CudaGraph::~CudaGraph() = default;
void CudaGraph::capture(const std::function<void()>&) { no_cuda(); }
void CudaGraph::replay() { no_cuda(); }
bool CudaGraph::captured() const { return false; }
int64_t CudaGraph::pool_bytes() const { return 0; }

namespace detail {
const CudaProbe& cuda_probe_impl() {
  static const CudaProbe none;
  return none;
}
std::string cuda_device_name_impl(int) { no_cuda(); }
void cuda_copy_bytes(void*, Device, const void*, Device, size_t) { no_cuda(); }
std::unique_ptr<AsyncReadback::Impl> make_cuda_readback() { no_cuda(); }
}  // namespace detail

}  // namespace ember
