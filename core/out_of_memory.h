// The CUDA allocator's out-of-memory messages (Note [CUDA out of memory] in
// core/cuda/cuda_allocator.cpp), made from plain numbers here - host code in every build - so
// that the CPU tests check their text; the allocator only gathers the numbers.
#pragma once

#include <cstdint>
#include <string>

namespace ember {

// "12345678 bytes (11.8 MiB)".
std::string format_bytes(uint64_t bytes);

// What the CUDA allocator knows when the device refuses an allocation.
struct OutOfMemoryReport {
  int device = 0;
  uint64_t requested = 0;                // bytes asked for
  uint64_t in_use = 0, peak = 0;         // ember's tensors now, and at most since the last reset
  uint64_t pool_reserved = 0;            // what ember's memory pool holds from the device
  uint64_t device_free = 0, device_total = 0;  // cudaMemGetInfo; total 0: it could not say
};

// One line: what was asked, what ember holds, what the device has left, and what to do.
std::string out_of_memory_message(const OutOfMemoryReport& r);
// The same for a CUDA graph's own memory pool (only what was asked and what the device has).
std::string graph_out_of_memory_message(const OutOfMemoryReport& r);

}  // namespace ember
