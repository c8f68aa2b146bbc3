// libFuzzer harness: data::read_cifar_file on arbitrary bytes, whole and with a record
// limit. Any file either reads (whole records, labels 0-9) or fails with one clean Error.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "data/cifar10.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  const std::string path = fuzz::write_input("cifar10", data, size);
  for (int64_t limit : {int64_t{-1}, int64_t{1}}) {
    data::Dataset d;
    if (!fuzz::runs_or_fails_cleanly([&] { d = data::read_cifar_file(path, limit); })) continue;
    const int64_t records = static_cast<int64_t>(size) / data::kCifarRecordBytes;
    if (d.size() != (limit < 0 ? records : std::min(records, limit))) std::abort();
    for (int64_t label : d.labels.to_vector<int64_t>())
      if (label < 0 || label > 9) std::abort();
  }
  return 0;
}
