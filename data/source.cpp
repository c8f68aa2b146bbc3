#include "data/source.h"

#include <algorithm>

#include "core/error.h"
#include "core/printable.h"
#include "data/cifar10.h"
#include "data/parse.h"
#include "data/synthetic.h"

namespace ember::data {

namespace {

constexpr const char* kSynthetic = "synthetic";

constexpr const char* kSyntheticForm = "bad data source '{}': expected synthetic:NTRAIN,NTEST with counts >= 0";

int64_t limited(int64_t n, int64_t limit) { return limit < 0 ? n : std::min(n, limit); }

}  // namespace

DataSplits load_data(const std::string& spec, int64_t limit_train, int64_t limit_test, uint64_t synthetic_seed) {
  EMBER_USAGE_CHECK(!spec.empty(), "empty data source: give a CIFAR-10 folder, synthetic or synthetic:NTRAIN,NTEST");
  const std::string prefix = std::string(kSynthetic) + ":";
  if (spec != kSynthetic && spec.compare(0, prefix.size(), prefix) != 0)
    return load_cifar10(spec, limit_train, limit_test);
  int64_t n_train = kSyntheticDefaultTrain, n_test = kSyntheticDefaultTest;
  if (spec != kSynthetic) {
    const std::vector<std::string> counts = split(spec.substr(prefix.size()), ',');
    EMBER_USAGE_CHECK(counts.size() == 2 && parse_int64(counts[0], &n_train) && parse_int64(counts[1], &n_test) &&
                          n_train >= 0 && n_test >= 0,
                      kSyntheticForm, printable(spec));
  }
  return make_synthetic(limited(n_train, limit_train), limited(n_test, limit_test), synthetic_seed);
}

}  // namespace ember::data
