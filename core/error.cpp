#include "core/error.h"

namespace ember {

namespace {
std::string with_location(const char* file, int line, const std::string& message) {
  std::string f(file);
  // Keep the path from the project root: .../core/tensor.cpp -> core/tensor.cpp
  for (const char* root : {"/core/", "/kernels/", "/nn/", "/optim/", "/data/", "/apps/", "/tests/"}) {
    auto pos = f.rfind(root);
    if (pos != std::string::npos) {
      f = f.substr(pos + 1);
      break;
    }
  }
  return fmt::format("{} ({}:{})", message, f, line);
}
}  // namespace

Error::Error(const char* file, int line, const std::string& message)
    : std::runtime_error(with_location(file, line, message)), message_(message) {}

void throw_error(const char* file, int line, const std::string& message) {
  throw Error(file, line, message);
}

}  // namespace ember
