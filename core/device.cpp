#include "core/device.h"

#include <fmt/format.h>

#include "core/cuda_hooks.h"
#include "core/error.h"
#include "core/parallel.h"

namespace ember {

std::string Device::str() const { return is_cpu() ? "cpu" : fmt::format("cuda:{}", index); }

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string num = text.substr(5);
    if (!num.empty() && num.find_first_not_of("0123456789") == std::string::npos && num.size() < 4)
      return cuda(std::stoi(num));
  }
  throw UsageError(__FILE__, __LINE__, fmt::format("unknown device '{}' (expected cpu, cuda or cuda:N)", text));
}

int cuda_device_count() { return detail::cuda_device_count_impl(); }
bool cuda_available() { return cuda_device_count() > 0; }

void check_device_usable(Device device) {
  if (device.is_cpu()) return;
  EMBER_CHECK(cuda_built(), "this build of ember has no CUDA support (configured with EMBER_CUDA=OFF); use the CPU");
  const int count = cuda_device_count();
  EMBER_CHECK(count > 0, "no CUDA GPU is available (no device or no driver); use the CPU");
  EMBER_CHECK(device.index >= 0 && device.index < count, "{} requested but only {} CUDA device(s) are visible",
              device.str(), count);
}

std::string device_name(Device device) {
  if (device.is_cpu()) return fmt::format("CPU ({} threads)", num_threads());
  check_device_usable(device);
  return detail::cuda_device_name_impl(device.index);
}

}  // namespace ember
