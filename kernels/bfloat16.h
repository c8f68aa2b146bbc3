// bfloat16: the upper 16 bits of an IEEE float (8 exponent bits, 7 mantissa bits), the
// element type of ember's mixed-precision activations (issue 7). One conversion rule for the
// CPU and the GPU, so both round the same float to the same bits:
//   float -> bfloat16: round to nearest, ties to even; NaN stays NaN (quiet, sign kept);
//                      values past the largest bfloat16 become +-inf.
//   bfloat16 -> float: exact (the low 16 bits are zero).
// Arithmetic converts to float, computes in float and rounds the result back when it is
// stored (as torch's c10::BFloat16 does), so every elementwise rule written for float works.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/hd.h"

namespace ember {

EMBER_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

EMBER_HD float float_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

EMBER_HD uint16_t bfloat16_bits_from_float(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // NaN: quiet
  // Adding 0x7fff plus the lowest kept bit rounds to nearest with ties to the even value; a
  // carry out of the mantissa moves into the exponent, which is the right result (and gives
  // inf past the largest finite value).
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

EMBER_HD float float_from_bfloat16_bits(uint16_t b) { return float_from_bits(static_cast<uint32_t>(b) << 16); }

struct bfloat16 {
  uint16_t bits;

  bfloat16() = default;
  template <class U, std::enable_if_t<std::is_arithmetic_v<U>, int> = 0>
  EMBER_HD bfloat16(U value) : bits(bfloat16_bits_from_float(static_cast<float>(value))) {}
  EMBER_HD operator float() const { return float_from_bfloat16_bits(bits); }

  static EMBER_HD bfloat16 from_bits(uint16_t b) {
    bfloat16 r;
    r.bits = b;
    return r;
  }
};

// The type a sum of T accumulates in: float for bfloat16 (8 significant bits would lose
// everything after a few hundred terms), T itself otherwise.
template <class T> struct AccumulatorOf { using type = T; };
template <> struct AccumulatorOf<bfloat16> { using type = float; };
template <class T> using accumulator_t = typename AccumulatorOf<T>::type;

static_assert(sizeof(bfloat16) == 2 && std::is_trivially_copyable_v<bfloat16>, "bfloat16 must be two plain bytes");

}  // namespace ember
