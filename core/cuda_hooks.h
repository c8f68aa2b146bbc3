// What the CUDA part of core provides to the rest of core. core/cuda/*.cpp implements these
// in a CUDA build; core/cuda_unavailable.cpp implements them in a CPU-only build (Note
// [optional CUDA] in the top CMakeLists.txt).
#pragma once

#include <cstddef>
#include <string>

#include "core/device.h"

namespace ember::detail {

int cuda_device_count_impl();                // 0 without a GPU or driver; never throws
std::string cuda_device_name_impl(int index);
// Any direction involving a CUDA device; ordered on ember's stream, synchronous for the host.
void cuda_copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);

}  // namespace ember::detail
