// Integer fields read back from JSON that a file holds (a checkpoint's run state and
// configuration). nlohmann's get<int>() of 1e300 is undefined behaviour and of 2^40 wraps
// silently (both found by tests/fuzz/fuzz_run_state.cpp); json_integer<T>() accepts only an
// integer - or a float with an integral value - in T's range, and is a clear error otherwise.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/printable.h"

namespace ember::train {

template <class Int>
Int json_integer(const nlohmann::json& j) {
  static_assert(std::is_integral_v<Int> && !std::is_same_v<Int, bool>);
  using Limits = std::numeric_limits<Int>;
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v <= static_cast<uint64_t>(Limits::max())) return static_cast<Int>(v);
  } else if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (Limits::is_signed ? (v >= static_cast<int64_t>(Limits::min()) && v <= static_cast<int64_t>(Limits::max()))
                          : (v >= 0 && static_cast<uint64_t>(v) <= static_cast<uint64_t>(Limits::max())))
      return static_cast<Int>(v);
  } else if (j.is_number_float()) {
    const double v = j.get<double>();
    // [min, max + 1): both ends are powers of two (or 0), exact as doubles.
    const double end = 2.0 * static_cast<double>(Limits::max() / 2 + 1);
    if (v == std::floor(v) && v >= static_cast<double>(Limits::min()) && v < end) return static_cast<Int>(v);
  }
  EMBER_FAIL("a saved field holds {}, not an integer in {}..{} (a corrupt or hand-edited file?)",
             printable(j.dump()), Limits::min(), Limits::max());
}

}  // namespace ember::train
