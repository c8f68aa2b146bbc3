#include "core/graph_memory.h"

#include <utility>

#include "core/error.h"

namespace ember {

GraphMemory::GraphMemory(SystemAlloc system_alloc, SystemFree system_free)
    : system_alloc_(std::move(system_alloc)), system_free_(std::move(system_free)) {}

GraphMemory::~GraphMemory() {
  for (auto& entry : blocks_) system_free_(entry.first);
  for (auto& free : kept_) free();
}

void* GraphMemory::allocate(size_t nbytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = free_.lower_bound(nbytes);
  if (it != free_.end() && it->first / 2 <= nbytes) {
    void* ptr = it->second;
    free_.erase(it);
    blocks_[ptr].in_use = true;
    return ptr;
  }
  void* ptr = system_alloc_(nbytes);
  blocks_.emplace(ptr, Block{nbytes, true});
  reserved_ += static_cast<int64_t>(nbytes);
  return ptr;
}

void GraphMemory::release(void* ptr) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = blocks_.find(ptr);
  EMBER_CHECK(it != blocks_.end() && it->second.in_use, "GraphMemory: {} is not a block of this pool in use", ptr);
  it->second.in_use = false;
  free_.emplace(it->second.size, ptr);
}

void GraphMemory::keep_until_destroyed(std::function<void()> free) {
  std::lock_guard<std::mutex> lock(mutex_);
  kept_.push_back(std::move(free));
}

int64_t GraphMemory::reserved_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reserved_;
}

int64_t GraphMemory::blocks() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(blocks_.size());
}

int64_t GraphMemory::kept_frees() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(kept_.size());
}

}  // namespace ember
