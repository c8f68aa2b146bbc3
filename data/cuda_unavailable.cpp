// The CUDA entry points of data/ in a CPU-only build (EMBER_CUDA=OFF): one clear error.
#include "core/error.h"
#include "data/cuda_hooks.h"

namespace ember::data::detail {

namespace {
[[noreturn]] void no_cuda() {
  EMBER_FAIL("this build of ember has no CUDA support (configured with EMBER_CUDA=OFF): load data on the CPU");
}
}  // namespace

void augment_batch_cuda(const kernels::AugmentBatchArgs&, void*) { no_cuda(); }
std::unique_ptr<BatchProducer> make_stream_producer() { no_cuda(); }

}  // namespace ember::data::detail
