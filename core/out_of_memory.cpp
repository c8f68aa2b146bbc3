#include "core/out_of_memory.h"

#include <fmt/format.h>

namespace ember {

namespace {

// The device's side: what cudaMemGetInfo said, or that it could not say (total 0).
std::string device_left(const OutOfMemoryReport& r) {
  if (r.device_total == 0) return "the device could not say how much it has free";
  return fmt::format("the device has {} free of {}", format_bytes(r.device_free), format_bytes(r.device_total));
}

}  // namespace

std::string format_bytes(uint64_t bytes) {
  return fmt::format("{} bytes ({:.1f} MiB)", bytes, static_cast<double>(bytes) / (1 << 20));
}

std::string out_of_memory_message(const OutOfMemoryReport& r) {
  return fmt::format(
      "CUDA out of memory on cuda:{}: {} requested; ember has {} in use (peak {}) and its pool reserves {}; {}. Use "
      "a smaller batch size, or free other processes' GPU memory",
      r.device, format_bytes(r.requested), format_bytes(r.in_use), format_bytes(r.peak),
      format_bytes(r.pool_reserved), device_left(r));
}

std::string graph_out_of_memory_message(const OutOfMemoryReport& r) {
  return fmt::format("CUDA out of memory in a CUDA graph's memory pool on cuda:{}: {} requested; {}", r.device,
                     format_bytes(r.requested), device_left(r));
}

}  // namespace ember
