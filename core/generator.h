// Generator: a seed and a Philox counter. Every random op reserves the counters it uses
// (Note [random streams] in kernels/philox.h), so the same seed gives the same numbers on
// the CPU and on CUDA, whatever the device of each op.
#pragma once

#include <cstdint>

namespace ember {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }
  // Reserves the counters for n elements; returns the first counter.
  uint64_t reserve(int64_t n) {
    const uint64_t first = offset_;
    offset_ += (static_cast<uint64_t>(n) + 3) / 4;
    return first;
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The generator used when none is given (seeded with 0 at start, like a fixed default).
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace ember
