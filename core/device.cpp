#include "core/device.h"

#include <cstdio>

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

// Note [device detection]
// Only cudaErrorNoDevice means "this machine has no GPU". Any other failure while looking for
// one (no driver or one too old for this runtime, a busy or prohibited device, a broken
// installation) means a GPU may be there but cannot be used, and the message says which with
// CUDA's error name and text: in --device cuda's error, in --device auto's warning and in
// every GPU test's skip reason (tests/support/gpu_test.h). The probe runs once per process.
//
// Note [one GPU per process]
// ember keeps one stream, one cuBLAS and one cuDNN handle and one memory pool per process,
// all on device 0, the first visible device. cuda:N for N != 0 is refused with a message that
// says how to run on another GPU (CUDA_VISIBLE_DEVICES) instead of half-working on it.
std::string cuda_unavailable_reason() {
  if (!cuda_built()) return "this build of ember has no CUDA support (configured with EMBER_CUDA=OFF)";
  const detail::CudaProbe& probe = detail::cuda_probe_impl();
  if (probe.error.empty()) return "";
  return fmt::format("no CUDA GPU is {} ({})", probe.no_device ? "available" : "usable", probe.error);
}

int cuda_device_count() { return cuda_built() ? detail::cuda_probe_impl().count : 0; }
bool cuda_available() { return cuda_device_count() > 0; }

void check_device_usable(Device device) {
  if (device.is_cpu()) return;
  const std::string reason = cuda_unavailable_reason();
  EMBER_CHECK(reason.empty(), "{}; use the CPU", reason);
  const std::string refusal = other_gpu_refusal(device, cuda_device_count());
  EMBER_CHECK(refusal.empty(), "{}", refusal);
}

std::string other_gpu_refusal(Device device, int visible_gpus) {
  if (!device.is_cuda() || device.index == 0) return "";
  return fmt::format(
      "{} requested, but ember runs on one GPU per process, cuda:0 ({} visible here); to use another GPU, select it "
      "with CUDA_VISIBLE_DEVICES (e.g. CUDA_VISIBLE_DEVICES={} and --device cuda)",
      device.str(), visible_gpus, device.index);
}

Device resolve_device(const std::string& name, const std::string& program) {
  if (name != "auto") {
    const Device d = Device::parse(name);
    check_device_usable(d);
    return d;
  }
  const std::string reason = cuda_unavailable_reason();
  if (reason.empty()) return Device::cuda(0);
  std::fprintf(stderr, "%s: warning: %s: running on the CPU\n", program.c_str(), reason.c_str());
  return Device::cpu();
}

std::string device_name(Device device) {
  if (device.is_cpu()) return fmt::format("CPU ({} threads)", num_threads());
  check_device_usable(device);
  return detail::cuda_device_name_impl(device.index);
}

}  // namespace ember
