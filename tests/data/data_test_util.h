// Helpers of the data/ test suites: scratch folders, raw CIFAR records written without
// ember's writer, the real mini subset's location, and checks on one-line error messages.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/printable.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "tests/support/cifar10_mini.h"  // cifar10_mini_dir(), used with these helpers

namespace ember::testing {

// A fresh empty folder, unique per test process and instance, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A data set whose bytes encode (sample, byte index) and whose label is label_of(i).
data::Dataset patterned_dataset(int64_t n, uint64_t salt = 0);
// Every batch of epoch `epoch` (start_epoch, then next() until it says no).
std::vector<data::Batch> epoch_batches(data::Loader& loader, int64_t epoch);
// Writes `bytes` to `path` as they are.
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes);
std::vector<uint8_t> read_bytes(const std::string& path);
// CIFAR records of d, built by hand (label byte + 3072 pixel bytes each).
std::vector<uint8_t> raw_records(const data::Dataset& d);

// Runs f, which must throw ember::Error (or a subclass E) with a one-line message of valid
// UTF-8 holding every string of `parts`.
template <class E, class F>
::testing::AssertionResult throws_with(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const E& e) {
    const std::string m = e.message();
    if (m.find('\n') != std::string::npos) return ::testing::AssertionFailure() << "multi-line message: " << m;
    if (!is_valid_utf8(m)) return ::testing::AssertionFailure() << "not valid UTF-8: " << printable(m);
    for (const std::string& p : parts)
      if (m.find(p) == std::string::npos) return ::testing::AssertionFailure() << "'" << p << "' not in: " << m;
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw another exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

// Runs a shell command; returns its exit status, with stdout+stderr in *output.
int run_command(const std::string& command, std::string* output);

}  // namespace ember::testing
