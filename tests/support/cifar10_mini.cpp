#include "tests/support/cifar10_mini.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace ember::testing {

std::string cifar10_mini_dir() {
  namespace fs = std::filesystem;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("EMBER_CIFAR10_MINI"); env && *env) candidates.push_back(env);
  candidates.push_back(EMBER_SOURCE_DIR "/../shared/data/cifar10-mini");
  for (const std::string& c : candidates)
    if (fs::exists(fs::path(c) / "data_batch_1.bin")) return c;
  return "";
}

}  // namespace ember::testing
