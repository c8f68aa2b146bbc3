#include "data/shuffle.h"

#include <numeric>
#include <utility>

#include "core/error.h"
#include "kernels/augment_rule.h"

namespace ember::data {

namespace {

// The high 64 bits of a * b, from 32-bit halves (no compiler extension needed).
uint64_t mulhi64(uint64_t a, uint64_t b) {
  const uint64_t a_lo = a & 0xFFFFFFFFu, a_hi = a >> 32, b_lo = b & 0xFFFFFFFFu, b_hi = b >> 32;
  const uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi, hi_hi = a_hi * b_hi;
  const uint64_t cross = (lo_lo >> 32) + (hi_lo & 0xFFFFFFFFu) + lo_hi;
  return hi_hi + (hi_lo >> 32) + (cross >> 32);
}

}  // namespace

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  EMBER_CHECK(n >= 0, "epoch_order: negative size {}", n);
  EMBER_CHECK(epoch >= 0 && epoch <= int64_t(UINT32_MAX), "epoch {} outside 0..2^32-1", epoch);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!shuffle) return order;
  for (int64_t i = n - 1; i > 0; --i) {
    const auto r = kernels::data_stream_words(seed, kernels::kStreamShuffle, static_cast<uint32_t>(epoch),
                                              static_cast<uint64_t>(i));
    const uint64_t u = (static_cast<uint64_t>(r.w[1]) << 32) | r.w[0];
    const auto j = static_cast<int64_t>(mulhi64(u, static_cast<uint64_t>(i) + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

}  // namespace ember::data
