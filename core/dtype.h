// DType: the element types a Tensor can hold, and a helper that turns a runtime dtype into
// a compile-time C++ type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "kernels/bfloat16.h"

namespace ember {

// Float64 is there for double-precision gradient checks on the CPU (and works on CUDA too).
// BFloat16 holds mixed-precision activations (kernels/bfloat16.h); ops that need more than
// elementwise arithmetic, copies and sums (GEMM, softmax, random) take float32/float64 only.
// Comparisons produce UInt8 0/1 masks: ember has no bool dtype.
enum class DType { Float32, Float64, Int64, Int32, UInt8, BFloat16 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
bool is_floating(DType dtype);

template <class T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::Float32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::Float64; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct DTypeOf<bfloat16> { static constexpr DType value = DType::BFloat16; };

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
    case DType::BFloat16: return f(TypeTag<bfloat16>{});
  }
  EMBER_FAIL("unknown dtype {}", static_cast<int>(dtype));
}

// float32 and float64: the ops that need full-precision arithmetic (GEMM, softmax, random).
template <class F>
decltype(auto) dispatch_floating(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(TypeTag<float>{});
    case DType::Float64: return f(TypeTag<double>{});
    default: EMBER_FAIL("{} needs a float32 or float64 tensor, got {}", op, dtype_name(dtype));
  }
}

// float32, float64 and bfloat16: elementwise math and the layers' kernels.
template <class F>
decltype(auto) dispatch_floating_bf16(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(TypeTag<float>{});
    case DType::Float64: return f(TypeTag<double>{});
    case DType::BFloat16: return f(TypeTag<bfloat16>{});
    default: EMBER_FAIL("{} needs a floating-point tensor, got {}", op, dtype_name(dtype));
  }
}

}  // namespace ember
