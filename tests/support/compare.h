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
// Bit-for-bit equality of two tensors' values (any device, same dtype and shape).
::testing::AssertionResult bit_equal(const Tensor& got, const Tensor& want);
// cos(angle) between two tensors seen as vectors (any devices and floating dtypes, in float64):
// how alike two gradients point when their elements may not be compared one by one.
double cosine_similarity(const Tensor& a, const Tensor& b);

}  // namespace ember::testing

#define EXPECT_ALL_CLOSE(got, want, atol, rtol) EXPECT_TRUE(::ember::testing::all_close((got), (want), (atol), (rtol)))
#define EXPECT_BIT_EQUAL(got, want) EXPECT_TRUE(::ember::testing::bit_equal((got), (want)))
