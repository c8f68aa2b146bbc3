#include "nn/layer_backend.h"

#include <atomic>
#include <cstdlib>

#include "nn/cpu/cpu_layer_backend.h"
#include "nn/cpu/widening_layer_backend.h"

namespace ember::nn {

namespace {

std::atomic<bool> tf32_convolutions{true};  // Note [TF32 convolutions]

CpuLayers default_cpu_layers() {
  const char* env = std::getenv("EMBER_CPU_LAYERS");
  if (env == nullptr || *env == '\0') return onednn_layers_built() ? CpuLayers::OneDnn : CpuLayers::Reference;
  try {
    const CpuLayers layers = parse_cpu_layers(env);
    if (layers == CpuLayers::OneDnn) onednn_layer_backend();  // the clear error of a build without it
    return layers;
  } catch (const Error& e) {  // a usage error: the environment asked for what cannot be
    throw UsageError(__FILE__, __LINE__, fmt::format("EMBER_CPU_LAYERS={}: {}", env, e.message()));
  }
}

// The selection, made from the environment at the first call (Note [CPU layer backends]).
std::atomic<CpuLayers>& selected() {
  static std::atomic<CpuLayers> layers{default_cpu_layers()};
  return layers;
}

}  // namespace

LayerBackend& reference_layer_backend() {
  static CpuLayerBackend backend;
  static WideningLayerBackend widening(backend);  // bfloat16 through float32
  return widening;
}

CpuLayers cpu_layers() { return selected().load(); }

void set_cpu_layers(CpuLayers layers) {
  if (layers == CpuLayers::OneDnn) onednn_layer_backend();  // throws where it is not built
  selected() = layers;
}

const char* cpu_layers_name(CpuLayers layers) { return layers == CpuLayers::OneDnn ? "onednn" : "reference"; }

CpuLayers parse_cpu_layers(const std::string& name) {
  if (name == "reference") return CpuLayers::Reference;
  if (name == "onednn") return CpuLayers::OneDnn;
  throw UsageError(__FILE__, __LINE__, fmt::format("unknown CPU layers '{}' (choose reference or onednn)", name));
}

LayerBackend& cpu_layer_backend() {
  return cpu_layers() == CpuLayers::OneDnn ? onednn_layer_backend() : reference_layer_backend();
}

LayerBackend& layer_backend_for(Device device) {
  if (device.is_cpu()) return cpu_layer_backend();
  return cuda_layer_backend();
}

void LayerBackend::conv2d_backward(const Conv2dGeometry& g, const Conv2dBackwardArgs& a) {
  if (a.grad_in.defined()) conv2d_backward_input(g, a.grad_in, a.grad_out, a.weight);
  if (a.grad_weight.defined()) conv2d_backward_weight(g, a.grad_weight, a.grad_bias, a.grad_out, a.input);
}

void LayerBackend::batch_norm_relu_backward(const BatchNormBackwardArgs&) {
  EMBER_FAIL("internal: batch_norm_relu_backward on a backend that does not fuse batch norm and relu");
}

void set_conv_tf32(bool enabled) { tf32_convolutions = enabled; }
bool conv_tf32_enabled() { return tf32_convolutions; }

}  // namespace ember::nn
