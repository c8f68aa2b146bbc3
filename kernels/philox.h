// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator. The same (key, counter) gives the same four 32-bit words on the
// CPU and on the GPU, which is what makes ember's random tensors identical on both.
//
// Note [random streams]
// A random op with seed S and starting counter C fills element i from counter C + i/4,
// word i%4. Uniform floats use the top 24 bits; normals use Box-Muller on the word pair
// (2*(i%4/2), 2*(i%4/2)+1) of the same counter, cos for even i and sin for odd i, computed
// in double and rounded once. A call consumes ceil(n/4) counters.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace ember::kernels {

struct PhiloxWords {
  uint32_t w[4];
};

EMBER_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(product >> 32);
  return static_cast<uint32_t>(product);
}

// The full generator: four counter words, two key words (Random123's philox4x32_10).
EMBER_HD PhiloxWords philox4x32_10(PhiloxWords ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // key schedule (golden ratio, sqrt 3)
  uint32_t c0 = ctr.w[0], c1 = ctr.w[1], c2 = ctr.w[2], c3 = ctr.w[3];
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo32(kM0, c0, &hi0);
    const uint32_t lo1 = mulhilo32(kM1, c2, &hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return {{c0, c1, c2, c3}};
}

// ember's use: a 64-bit seed as the key and a 64-bit counter in the low two words.
EMBER_HD PhiloxWords philox4x32_10(uint64_t key, uint64_t counter) {
  PhiloxWords ctr = {{static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u}};
  return philox4x32_10(ctr, static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32));
}

// [0, 1) with 24 random bits: exactly representable in float, so CPU and GPU agree bit for bit.
EMBER_HD double uniform_from_word(uint32_t word) { return (word >> 8) * (1.0 / 16777216.0); }

// Lane `lane` (0-3) of one counter's words as a uniform [low, high) value.
template <class T>
EMBER_HD T uniform_lane(const PhiloxWords& r, int lane, double low, double high) {
  return static_cast<T>(low + (high - low) * uniform_from_word(r.w[lane]));
}

// Lane `lane` (0-3) of one counter's words as a normal(mean, std) value (Box-Muller).
template <class T>
EMBER_HD T normal_lane(const PhiloxWords& r, int lane, double mean, double std) {
  using std::cos, std::log, std::sin, std::sqrt;  // not ember's tensor ops of the same names
  const int pair = lane / 2;
  // u1 in (0, 1]: log stays finite.
  const double u1 = (static_cast<double>(r.w[2 * pair]) + 1.0) * (1.0 / 4294967296.0);
  const double u2 = static_cast<double>(r.w[2 * pair + 1]) * (1.0 / 4294967296.0);
  const double radius = sqrt(-2.0 * log(u1));
  const double angle = 6.283185307179586 * u2;
  const double z = (lane % 2 == 0) ? radius * cos(angle) : radius * sin(angle);
  return static_cast<T>(mean + std * z);
}

// Element i of the stream (seed, counter0): counter counter0 + i/4, lane i%4.
template <class T>
EMBER_HD T philox_uniform(uint64_t seed, uint64_t counter0, int64_t i, double low, double high) {
  return uniform_lane<T>(philox4x32_10(seed, counter0 + static_cast<uint64_t>(i) / 4), static_cast<int>(i % 4), low, high);
}

template <class T>
EMBER_HD T philox_normal(uint64_t seed, uint64_t counter0, int64_t i, double mean, double std) {
  return normal_lane<T>(philox4x32_10(seed, counter0 + static_cast<uint64_t>(i) / 4), static_cast<int>(i % 4), mean, std);
}

}  // namespace ember::kernels
