// What the CUDA part of core provides to the rest of core. core/cuda/*.cpp implements these
// in a CUDA build; core/cuda_unavailable.cpp implements them in a CPU-only build (Note
// [optional CUDA] in the top CMakeLists.txt). How it differs from core/cuda/*.h: those are
// used only inside core/cuda/ and exist only in a CUDA build; this is the small interface that
// device-independent code (core/device.cpp, core/backend.cpp) calls in every build.
// data/cuda_hooks.h is the same arrangement for data/.
#pragma once

#include <cstddef>
#include <string>

#include "core/device.h"

namespace ember::detail {

// What looking for a GPU found (once per process; never throws).
struct CudaProbe {
  int count = 0;           // visible devices when device 0 answered, else 0
  bool no_device = false;  // CUDA said cudaErrorNoDevice: this machine has no GPU
  std::string error;       // otherwise why none is usable: "cudaErrorName: CUDA's text"; "" when usable
};
const CudaProbe& cuda_probe_impl();
std::string cuda_device_name_impl(int index);
// Any direction involving a CUDA device; ordered on ember's stream, synchronous for the host.
void cuda_copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);

}  // namespace ember::detail
