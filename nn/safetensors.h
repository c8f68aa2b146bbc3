// Safetensors files: named tensors plus string metadata, the format of Hugging Face's
// safetensors (https://huggingface.co/docs/safetensors), which torch reads and writes with
// safetensors.torch.{load_file, save_file}.
//
// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
//   {"__metadata__": {"key": "value", ...},
//    "name": {"dtype": "F32", "shape": [64, 3, 7, 7], "data_offsets": [begin, end]}, ...}
// then the data: each tensor's elements row-major, little-endian, at [begin, end) relative
// to the end of the header. ember writes the tensors in the order given, the header padded
// with spaces to a multiple of 8 bytes so that the data starts aligned.
//
// Generic on purpose: checkpoints of models (nn/checkpoint.h), optimiser state, RNG state,
// anything that is a list of tensors. dtypes: F32, F64, I64, I32, U8, BF16 (ember's).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ember::nn {

using SafetensorsMetadata = std::map<std::string, std::string>;

struct SafetensorsContents {
  std::vector<std::pair<std::string, Tensor>> tensors;  // CPU tensors, in file (offset) order
  SafetensorsMetadata metadata;
  // The tensor called `name`, or nullptr.
  const Tensor* find(const std::string& name) const;
};

// Writes `tensors` (any device, any layout: made contiguous on the host first) and
// `metadata` to `path` atomically: a temporary file in the same folder, fsync, rename over
// `path`, fsync of the folder. Names must be unique, non-empty and not "__metadata__".
// Every failure throws an Error naming the file; `path` is then left as it was.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const SafetensorsMetadata& metadata = {});

// Reads a whole file with full validation: header length within the file and at most
// 100 MB, valid JSON object, known dtypes, shapes of non-negative sizes, data_offsets that
// match dtype and shape, tile the data section exactly (in range, no overlap, no gap, no
// trailing bytes: a truncated file is caught) and unique names. Any problem throws an Error
// naming the file and the problem; it never crashes.
SafetensorsContents load_safetensors(const std::string& path);

}  // namespace ember::nn
