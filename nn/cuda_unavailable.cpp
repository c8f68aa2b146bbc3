// The CUDA layer backend of a CPU-only build (EMBER_CUDA=OFF): a clear error.
#include "core/error.h"
#include "nn/layer_backend.h"

namespace ember::nn {

LayerBackend& cuda_layer_backend() {
  EMBER_FAIL("this build of ember has no CUDA support (configured with EMBER_CUDA=OFF): nn layers run on the CPU only");
}

size_t cudnn_conv_plan_count() { return 0; }

}  // namespace ember::nn
