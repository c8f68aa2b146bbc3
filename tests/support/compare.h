// Elementwise comparison of tensors with a report: how many elements mismatched, the first
// few indices, the largest absolute and relative errors. An element passes when
// |got - want| <= atol + rtol * |want|; written as !(... <= ...) so NaN always fails
// (unless both are NaN in the same place and nan_equal is set).
#pragma once

#include <gtest/gtest.h>

#include "core/tensor.h"

namespace ember::testing {

::testing::AssertionResult all_close(const Tensor& got, const Tensor& want, double atol, double rtol,
                                     bool nan_equal = false);
// Bit-for-bit equality of two tensors' values (any device, same dtype and shape); two NaNs
// are equal whatever their payloads and signs (devices differ there: a CUDA conversion gives
// the canonical NaN, x86 keeps the payload), every other value needs the same bits.
::testing::AssertionResult bit_equal(const Tensor& got, const Tensor& want);
// cos(angle) between two tensors seen as vectors (any devices and floating dtypes, in float64):
// how alike two gradients point when their elements may not be compared one by one.
double cosine_similarity(const Tensor& a, const Tensor& b);
// Two gradients agree as vectors: cos(angle) >= min_cosine AND |norm(got) / norm(want) - 1| <=
// norm_tolerance (a cosine alone passes a gradient off by a constant factor: a doubled one
// has cosine 1). NaN fails. The message gives both figures.
::testing::AssertionResult gradients_agree(const Tensor& got, const Tensor& want, double min_cosine,
                                           double norm_tolerance);

}  // namespace ember::testing

#define EXPECT_ALL_CLOSE(got, want, atol, rtol) EXPECT_TRUE(::ember::testing::all_close((got), (want), (atol), (rtol)))
#define EXPECT_BIT_EQUAL(got, want) EXPECT_TRUE(::ember::testing::bit_equal((got), (want)))
