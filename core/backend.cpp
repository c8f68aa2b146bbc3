#include "core/backend.h"

#include <cstring>

#include "core/cuda_hooks.h"

namespace ember {

Backend& backend_for(Device device) {
  if (device.is_cpu()) return cpu_backend();
  return cuda_backend();
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, nbytes);
    return;
  }
  detail::cuda_copy_bytes(dst, dst_device, src, src_device, nbytes);
}

}  // namespace ember
