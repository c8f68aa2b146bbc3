// IntDivider: division and remainder of 32-bit unsigned numbers by a divisor fixed for a whole
// launch, by one multiply-high, one add and one shift instead of the GPU's division routine
// (a GPU has no integer divider: `/` and `%` on 64-bit values are a call of about 70
// instructions, on 32-bit values about 20). Index math of the elementwise, copy, pooling,
// reduction and batch-norm kernels divides each linear index by sizes that the launcher knows,
// so it builds one IntDivider per size on the host and passes it by value.
//
// Note [multiply-shift division]
// Granlund and Montgomery, "Division by invariant integers using multiplication" (PLDI '94),
// Theorem 4.2, as PyTorch's IntDivider (ATen/cuda/detail/IntegerDivider.cuh) uses it. For a
// divisor d in [1, 2^32) let s = ceil(log2(d)) (0 <= s <= 32) and
//   m = floor(2^32 * (2^s - d) / d) + 1,
// which fits in 32 bits (m = 1 for powers of two; m < 2^32 - 2 otherwise, as 2^s <= 2d - 2).
// Then 2^32 + m is the 33-bit magic number, and for every n in [0, 2^32)
//   floor(n / d) = (mulhi(m, n) + n) >> s,
// where mulhi is the upper 32 bits of the 64-bit product. PyTorch adds mulhi + n in 32 bits,
// which limits n to 2^31; the sum here is 64-bit (two instructions more), so every 32-bit n
// and every 32-bit divisor are exact (tests/core/test_int_divider.cpp checks the edges
// against `/` and `%`).
#pragma once

#include <cstdint>

#include "kernels/hd.h"

namespace ember::kernels {

struct DivMod {
  uint32_t div, mod;
};

class IntDivider {
 public:
  IntDivider() = default;
  // d >= 1 (a divisor of 0 would be a bug of the launcher; it gives d = 1 here).
  explicit IntDivider(uint32_t d) : divisor_(d == 0 ? 1u : d) {
    while (shift_ < 32 && (uint64_t(1) << shift_) < divisor_) ++shift_;
    const uint64_t power = uint64_t(1) << shift_;
    magic_ = static_cast<uint32_t>(((uint64_t(1) << 32) * (power - divisor_)) / divisor_ + 1);
  }

  EMBER_HD uint32_t divisor() const { return divisor_; }

  EMBER_HD uint32_t div(uint32_t n) const {
#if defined(__CUDA_ARCH__)
    const uint32_t high = __umulhi(magic_, n);
#else
    const uint32_t high = static_cast<uint32_t>((uint64_t(magic_) * n) >> 32);
#endif
    return static_cast<uint32_t>((uint64_t(high) + n) >> shift_);
  }

  EMBER_HD uint32_t mod(uint32_t n) const { return n - div(n) * divisor_; }

  EMBER_HD DivMod divmod(uint32_t n) const {
    const uint32_t q = div(n);
    return {q, n - q * divisor_};
  }

 private:
  uint32_t divisor_ = 1;
  uint32_t magic_ = 1;
  uint32_t shift_ = 0;
};

// Largest element count (and element offset) the 32-bit index paths take: below 2^31, so that
// a grid-stride step (i + threads, threads < 2^31) never wraps a uint32_t.
constexpr int64_t kMaxIndex32 = (int64_t(1) << 31) - 1;

}  // namespace ember::kernels
