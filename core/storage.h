// Storage: a reference-counted buffer of bytes on one device. Tensors (and views of them)
// share a Storage through std::shared_ptr; the bytes go back to their allocator when the
// last one lets go.
#pragma once

#include <cstddef>
#include <memory>

#include "core/allocator.h"

namespace ember {

class Storage {
 public:
  Storage(size_t nbytes, Allocator& allocator)
      : data_(allocator.allocate(nbytes)), nbytes_(nbytes), device_(allocator.device()) {}
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_.get(); }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  DataPtr data_;
  size_t nbytes_;
  Device device_;
};

}  // namespace ember
