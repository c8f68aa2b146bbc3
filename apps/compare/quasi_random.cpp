#include "apps/compare/quasi_random.h"

#include <cmath>

#include "core/error.h"
#include "kernels/philox.h"

namespace ember::compare {

uint32_t halton_base(int dimension) {
  static const uint32_t kPrimes[kMaxHaltonDimensions] = {2,  3,  5,  7,  11, 13, 17, 19, 23, 29,  31,
                                                         37, 41, 43, 47, 53, 59, 61, 67, 71, 73,  79,
                                                         83, 89, 97, 101, 103, 107, 109, 113, 127, 131};
  EMBER_CHECK(dimension >= 0 && dimension < kMaxHaltonDimensions, "Halton dimension {} is not in [0, {})", dimension,
              kMaxHaltonDimensions);
  return kPrimes[dimension];
}

HaltonSequence::HaltonSequence(int dimensions, uint64_t seed, bool scramble) {
  EMBER_CHECK(dimensions >= 1 && dimensions <= kMaxHaltonDimensions, "a Halton sequence has 1 to {} dimensions, not {}",
              kMaxHaltonDimensions, dimensions);
  uint64_t draw = 0;  // one Philox counter per random word: the permutations depend on seed only
  for (int d = 0; d < dimensions; ++d) {
    const uint32_t base = halton_base(d);
    const int digits = static_cast<int>(std::ceil(53.0 / std::log2(static_cast<double>(base))));
    std::vector<uint32_t> perm(static_cast<size_t>(digits) * base);
    for (int position = 0; position < digits; ++position) {
      uint32_t* p = perm.data() + static_cast<size_t>(position) * base;
      for (uint32_t v = 0; v < base; ++v) p[v] = v;
      if (!scramble) continue;
      for (uint32_t i = base - 1; i > 0; --i) {  // Fisher-Yates
        const uint32_t word = kernels::philox4x32_10(seed ^ 0x48414C544F4Eull /* "HALTON" */, draw++).w[0];
        const uint32_t j = static_cast<uint32_t>((static_cast<uint64_t>(word) * (i + 1)) >> 32);  // [0, i]
        std::swap(p[i], p[j]);
      }
    }
    bases_.push_back(base);
    digits_.push_back(digits);
    permutations_.push_back(std::move(perm));
  }
}

double HaltonSequence::coordinate(uint64_t index, int dimension) const {
  EMBER_CHECK(dimension >= 0 && dimension < dimensions(), "coordinate {} of a {}-dimensional sequence", dimension,
              dimensions());
  const uint32_t base = bases_[dimension];
  const uint32_t* perm = permutations_[dimension].data();
  // Sum the mirrored digits from the least significant position up, so that the small terms
  // are added first; every position up to digits_ is used (zeros beyond the index permuted too).
  std::vector<uint32_t> digit(static_cast<size_t>(digits_[dimension]));
  for (int position = 0; position < digits_[dimension]; ++position) {
    digit[position] = perm[static_cast<size_t>(position) * base + static_cast<uint32_t>(index % base)];
    index /= base;
  }
  double value = 0;
  for (int position = digits_[dimension] - 1; position >= 0; --position) value = (value + digit[position]) / base;
  return value < 1.0 ? value : std::nextafter(1.0, 0.0);  // rounding may reach 1 with all digits b-1
}

std::vector<double> HaltonSequence::point(uint64_t index) const {
  std::vector<double> p(bases_.size());
  for (int d = 0; d < dimensions(); ++d) p[d] = coordinate(index, d);
  return p;
}

}  // namespace ember::compare
