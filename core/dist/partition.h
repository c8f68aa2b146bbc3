// How n elements are split over ranks: contiguous parts, in rank order, as even as `align`
// allows (every part but possibly the last starts and ends on a multiple of align).
#pragma once

#include <cstdint>
#include <vector>

#include "core/error.h"

namespace ember::dist {

// counts[r] for r in [0, parts): sums to n; each boundary is a multiple of align, and parts
// differ by at most one align-sized block (the last also takes n's remainder).
inline std::vector<int64_t> even_parts(int64_t n, int parts, int64_t align) {
  EMBER_CHECK(n >= 0 && parts >= 1 && align >= 1, "dist: cannot split {} elements into {} parts of blocks of {}", n,
              parts, align);
  const int64_t blocks = n / align;
  std::vector<int64_t> counts;
  int64_t previous = 0;
  for (int r = 1; r <= parts; ++r) {
    const int64_t boundary = r == parts ? n : blocks * r / parts * align;
    counts.push_back(boundary - previous);
    previous = boundary;
  }
  return counts;
}

}  // namespace ember::dist
