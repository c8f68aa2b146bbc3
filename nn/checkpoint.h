// Model checkpoints: a module's state_dict (parameters and buffers under torch's names) in
// a safetensors file (nn/safetensors.h), loadable by torch with safetensors.torch.load_file
// and model.load_state_dict.
#pragma once

#include <string>

#include "nn/module.h"
#include "nn/safetensors.h"

namespace ember::nn {

// Writes module.state_dict() (any device) with `metadata`, atomically.
void save_checkpoint(const std::string& path, const Module& module, const SafetensorsMetadata& metadata = {});
// Loads `path` into `module` in place (its device and dtype stay): every name, dtype and
// shape must match (load_state_dict); the first mismatch throws an Error naming it and the
// file, and leaves the module untouched. Returns the file's metadata.
SafetensorsMetadata load_checkpoint(const std::string& path, Module& module);

}  // namespace ember::nn
