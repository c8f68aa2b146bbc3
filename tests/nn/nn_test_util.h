// Helpers shared by the nn test suites.
#pragma once

#include <cstdint>
#include <vector>

#include "core/generator.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "nn/layer_backend.h"
#include "tests/support/thread_count.h"

namespace ember::testing {

// Uniform values in [low, high) from a fixed seed (CPU).
inline Tensor uniform_tensor(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0,
                             DType dtype = DType::Float32) {
  Generator gen(seed);
  Tensor t = empty(shape, dtype);
  return uniform_(t, low, high, &gen);
}

// Selects the CPU layers for a scope (Note [CPU layer backends]), restoring the previous
// selection after.
class CpuLayersScope {
 public:
  explicit CpuLayersScope(nn::CpuLayers layers) : previous_(nn::cpu_layers()) { nn::set_cpu_layers(layers); }
  ~CpuLayersScope() { nn::set_cpu_layers(previous_); }
  CpuLayersScope(const CpuLayersScope&) = delete;
  CpuLayersScope& operator=(const CpuLayersScope&) = delete;

 private:
  nn::CpuLayers previous_;
};

// The CPU layers this build has: the reference ones, and oneDNN's where built.
inline std::vector<nn::CpuLayers> built_cpu_layers() {
  std::vector<nn::CpuLayers> layers = {nn::CpuLayers::Reference};
  if (nn::onednn_layers_built()) layers.push_back(nn::CpuLayers::OneDnn);
  return layers;
}

}  // namespace ember::testing
