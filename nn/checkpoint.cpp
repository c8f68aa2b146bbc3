#include "nn/checkpoint.h"

#include "core/printable.h"

namespace ember::nn {

void save_checkpoint(const std::string& path, const Module& module, const SafetensorsMetadata& metadata) {
  save_safetensors(path, module.state_dict(), metadata);
}

SafetensorsMetadata load_checkpoint(const std::string& path, Module& module) {
  SafetensorsContents contents = load_safetensors(path);
  load_state_dict(module, contents.tensors, printable(path));
  return contents.metadata;
}

}  // namespace ember::nn
