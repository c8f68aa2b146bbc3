#include "nn/layer_backend.h"

#include <atomic>

#include "nn/cpu/cpu_layer_backend.h"
#include "nn/cpu/widening_layer_backend.h"

namespace ember::nn {

namespace {
std::atomic<bool> tf32_convolutions{true};  // Note [TF32 convolutions]
}  // namespace

LayerBackend& cpu_layer_backend() {
  static CpuLayerBackend backend;
  static WideningLayerBackend widening(backend);  // bfloat16 through float32
  return widening;
}

LayerBackend& layer_backend_for(Device device) {
  if (device.is_cpu()) return cpu_layer_backend();
  return cuda_layer_backend();
}

void LayerBackend::batch_norm_relu_backward(const BatchNormBackwardArgs&) {
  EMBER_FAIL("internal: batch_norm_relu_backward on a backend that does not fuse batch norm and relu");
}

void set_conv_tf32(bool enabled) { tf32_convolutions = enabled; }
bool conv_tf32_enabled() { return tf32_convolutions; }

}  // namespace ember::nn
