// Value conversion between ember's dtypes, one rule for the CPU backend and the CUDA kernels
// (copies with a dtype change, fill, arange).
//
// Note [float to integer conversion]
// C++ leaves a floating value that is NaN or outside the integer type's range undefined when
// converted to an integer, and the two devices really differ: x86's cvttss2si gives INT_MIN
// (0x80000000) for both, CUDA's cvt.rzi saturates and gives 0 for NaN, and an 8-bit target
// wraps on one and saturates on the other. ember defines it as CUDA's hardware does and as
// numpy's and torch's saturating casts do on the GPU:
//   NaN -> 0; values at or past the type's bounds -> its lowest or highest value (so
//   +-inf too); everything else truncates toward zero (C++'s rule inside the range).
// Every other conversion is defined by C++ already and both devices agree: integer to
// integer keeps the low bits (two's complement), integer to floating and float64 to float32
// round to nearest, floating to bfloat16 follows kernels/bfloat16.h (a float64 is rounded to
// float32 first, on both devices).
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/bfloat16.h"
#include "kernels/hd.h"

namespace ember::kernels {

// 2^bits as a double (exact for bits <= 1023).
EMBER_HD constexpr double two_to_the(int bits) { return bits == 0 ? 1.0 : 2.0 * two_to_the(bits - 1); }

// A floating value (double: float and bfloat16 widen exactly) to integer type D by
// Note [float to integer conversion].
template <class D>
EMBER_HD D saturating_integer(double x) {
  static_assert(std::is_integral_v<D>, "saturating_integer converts to integer types");
  using limits = std::numeric_limits<D>;
  constexpr double upper = two_to_the(limits::digits);  // the first value past the largest
  constexpr double lower = limits::is_signed ? -upper : -1.0;
  if (x != x) return D(0);
  if (x >= upper) return limits::max();
  if (x <= lower) return limits::min();
  return static_cast<D>(x);  // |trunc(x)| in range: defined
}

// dst-type value of a src-type value (Note [float to integer conversion] for floating to integer).
template <class D, class S>
EMBER_HD D convert_value(S x) {
  if constexpr (std::is_integral_v<D> && !std::is_integral_v<S>) {
    return saturating_integer<D>(static_cast<double>(static_cast<accumulator_t<S>>(x)));
  } else {
    return static_cast<D>(x);
  }
}

}  // namespace ember::kernels
