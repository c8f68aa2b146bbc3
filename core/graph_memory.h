// GraphMemory: the memory a captured CUDA graph works in (Note [graph memory]).
//
// A CUDA graph replays its kernels on the addresses they had while it was captured. So the
// memory a graph touches must stay where it is, and no one else's, for as long as the graph
// can be replayed:
//   - Blocks allocated while capturing come from the graph's own pool. A block freed inside
//     the capture goes back to that pool and a later allocation of the same capture may take
//     it (the replay runs in capture order, so the reuse is ordered as it was); a block freed
//     after the capture (e.g. the loss tensor the caller kept) also goes back to the pool.
//     The pool never gives memory to anyone else, and frees its blocks only when the graph
//     and every tensor still holding one of its blocks are gone.
//   - A block from the ordinary allocator that is freed while capturing (the capture read it
//     last) is not freed: replays may still read it. Its free is kept and run when the
//     GraphMemory is destroyed.
// This is host bookkeeping only: the CUDA allocator (core/cuda/cuda_allocator.cpp) routes
// allocations and frees here while a capture is active, with cudaMalloc/cudaFree as the
// system functions; the CPU tests drive it with malloc/free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace ember {

class GraphMemory {
 public:
  using SystemAlloc = std::function<void*(size_t)>;  // throws on failure
  using SystemFree = std::function<void(void*)>;

  GraphMemory(SystemAlloc system_alloc, SystemFree system_free);
  GraphMemory(const GraphMemory&) = delete;
  GraphMemory& operator=(const GraphMemory&) = delete;
  // Frees every block of the pool (all must have been released) and runs the kept frees.
  ~GraphMemory();

  // A block of at least `nbytes`: the smallest free block of the pool that is no more than
  // twice as large (so a small tensor does not pin a large block), else a new one.
  void* allocate(size_t nbytes);
  // Gives a block of this pool back to it (a block that is not in use is an error).
  void release(void* ptr);
  // Runs `free` when this GraphMemory is destroyed instead of now.
  void keep_until_destroyed(std::function<void()> free);

  int64_t reserved_bytes() const;  // sum of the pool's blocks
  int64_t blocks() const;          // blocks in the pool, in use or free
  int64_t kept_frees() const;      // frees kept for the destructor

 private:
  SystemAlloc system_alloc_;
  SystemFree system_free_;
  mutable std::mutex mutex_;
  struct Block {
    size_t size;
    bool in_use;
  };
  std::unordered_map<void*, Block> blocks_;  // every block of the pool
  std::multimap<size_t, void*> free_;        // free blocks by size
  std::vector<std::function<void()>> kept_;
  int64_t reserved_ = 0;
};

}  // namespace ember
