// libFuzzer harness: nn::load_safetensors on arbitrary bytes. Any file either loads (and
// then its tensors tile the data section exactly and save back to the same bytes' meaning)
// or fails with one clean Error.
#include <cstdint>
#include <cstdlib>

#include "nn/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  const std::string path = fuzz::write_input("safetensors", data, size);
  nn::SafetensorsContents contents;
  if (!fuzz::runs_or_fails_cleanly([&] { contents = nn::load_safetensors(path); })) return 0;
  // What loaded must save and load again to the same names, shapes and metadata.
  const std::string copy = path + ".resaved";
  nn::save_safetensors(copy, contents.tensors, contents.metadata);
  const nn::SafetensorsContents again = nn::load_safetensors(copy);
  std::remove(copy.c_str());
  if (again.metadata != contents.metadata || again.tensors.size() != contents.tensors.size()) std::abort();
  for (size_t i = 0; i < again.tensors.size(); ++i) {
    const Tensor& a = contents.tensors[i].second;
    const Tensor& b = again.tensors[i].second;
    if (again.tensors[i].first != contents.tensors[i].first || a.sizes() != b.sizes() || a.dtype() != b.dtype())
      std::abort();
  }
  return 0;
}
