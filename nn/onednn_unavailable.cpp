// The oneDNN CPU layers of a build without oneDNN (EMBER_ONEDNN=OFF, or libdnnl-dev missing
// at configure time): a clear error, and the reference layers stay the only CPU layers.
#include "core/error.h"
#include "nn/layer_backend.h"

namespace ember::nn {

LayerBackend& onednn_layer_backend() {
  EMBER_FAIL(
      "this build of ember has no oneDNN CPU layers (configured without oneDNN: install libdnnl-dev and "
      "reconfigure); the reference CPU layers are available (EMBER_CPU_LAYERS=reference)");
}

bool onednn_layers_built() { return false; }
int64_t onednn_fallback_calls() { return 0; }
size_t onednn_plan_count() { return 0; }
int64_t onednn_small_map_weight_calls() { return 0; }

}  // namespace ember::nn
