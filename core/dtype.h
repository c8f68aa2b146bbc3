// DType: the element types a Tensor can hold, and a helper that turns a runtime dtype into
// a compile-time C++ type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"

namespace ember {

// Float64 is there for double-precision gradient checks on the CPU (and works on CUDA too).
// Comparisons produce UInt8 0/1 masks: ember has no bool dtype.
enum class DType { Float32, Float64, Int64, Int32, UInt8 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
bool is_floating(DType dtype);

template <class T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::Float32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::Float64; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::UInt8; };

template <class T> struct TypeTag { using type = T; };

// dispatch_dtype(dtype, [&](auto tag) { using T = typename decltype(tag)::type; ... });
template <class F>
decltype(auto) dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(TypeTag<float>{});
    case DType::Float64: return f(TypeTag<double>{});
    case DType::Int64: return f(TypeTag<int64_t>{});
    case DType::Int32: return f(TypeTag<int32_t>{});
    case DType::UInt8: return f(TypeTag<uint8_t>{});
  }
  EMBER_FAIL("unknown dtype {}", static_cast<int>(dtype));
}

template <class F>
decltype(auto) dispatch_floating(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(TypeTag<float>{});
    case DType::Float64: return f(TypeTag<double>{});
    default: EMBER_FAIL("{} needs a floating-point tensor, got {}", op, dtype_name(dtype));
  }
}

}  // namespace ember
