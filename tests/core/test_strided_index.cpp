// The 32-bit strided index (kernels/strided_index.h, StridedIndex32: a multiply-shift
// division per dim) against the 64-bit one (strided_offsets, plain division) on the layouts
// real ops produce - transposes, slices, broadcasts, channels_last copies, up to 8 dims - at
// every linear index of small shapes and at sampled ones of large shapes; and fits_index32,
// which decides between them, at its edges (2^31 - 1 and 2^31 elements or offsets). Exact
// equality: both compute integers.
#include <cstdint>
#include <random>

#include <gtest/gtest.h>

#include "core/ops.h"
#include "core/strided_layout.h"
#include "kernels/strided_index.h"

namespace ember {
namespace {

using kernels::StridedLayout;

template <int N>
void expect_same_offsets(const StridedLayout<N>& layout, int64_t n, int64_t step) {
  ASSERT_TRUE(kernels::fits_index32(layout, n));
  const kernels::StridedIndex32<N> index(layout);
  for (int64_t i = 0; i < n; i += step) {
    int64_t want[N];
    uint32_t got[N];
    kernels::strided_offsets(layout, i, want);
    index.offsets(static_cast<uint32_t>(i), got);
    for (int k = 0; k < N; ++k) ASSERT_EQ(int64_t(got[k]), want[k]) << "operand " << k << " index " << i;
  }
}

TEST(StridedIndex32, EqualsThe64BitOffsetsOnOpLayouts) {
  const Tensor m = zeros({9, 6, 5}), v = zeros({5}), img = zeros({3, 8, 7, 5});
  const Tensor out = zeros({9, 6, 5});
  expect_same_offsets(make_strided_layout<2>({&out, &m}), out.numel(), 1);
  const Tensor t = m.permute({2, 0, 1}), tout = zeros({5, 9, 6});
  expect_same_offsets(make_strided_layout<2>({&tout, &t}), tout.numel(), 1);
  const Tensor s = m.slice(0, 1, 9, 3).slice(2, 1, 5, 2), sout = zeros(s.sizes());
  expect_same_offsets(make_strided_layout<2>({&sout, &s}), sout.numel(), 1);
  const Tensor b = v.expand({9, 6, 5});
  expect_same_offsets(make_strided_layout<3>({&out, &m, &b}), out.numel(), 1);
  const Tensor nhwc = img.to_channels_last(), nchw = zeros(img.sizes());
  expect_same_offsets(make_strided_layout<2>({&nchw, &nhwc}), nchw.numel(), 1);
}

TEST(StridedIndex32, EqualsThe64BitOffsetsOnEightDimsAndLargeSizes) {
  // Eight non-mergeable dims of odd sizes (a permuted view), and a layout with sizes near the
  // 32-bit edge (offsets only: nothing is allocated).
  const Tensor a = zeros({2, 3, 2, 3, 2, 3, 2, 3}).permute({7, 5, 3, 1, 0, 2, 4, 6});
  const Tensor o = zeros(a.sizes());
  const auto layout = make_strided_layout<2>({&o, &a});
  EXPECT_EQ(layout.ndim, 8);
  expect_same_offsets(layout, o.numel(), 1);
  StridedLayout<2> big;
  big.ndim = 3;
  const int64_t sizes[3] = {3, 65537, 10921};  // 2,147,188,731 elements: just below 2^31
  for (int d = 0; d < 3; ++d) big.sizes[d] = sizes[d];
  big.strides[0][0] = 65537 * 10921, big.strides[0][1] = 10921, big.strides[0][2] = 1;  // contiguous
  big.strides[1][0] = 1, big.strides[1][1] = 3 * 10921, big.strides[1][2] = 3;          // a permuted source
  expect_same_offsets(big, 3 * 65537 * int64_t(10921), 7919);
}

TEST(StridedIndex32, Fits32BitsExactlyBelow2To31) {
  StridedLayout<1> l;
  l.ndim = 1;
  l.sizes[0] = (int64_t(1) << 31) - 1;
  l.strides[0][0] = 1;
  EXPECT_TRUE(kernels::fits_index32(l, l.sizes[0]));
  l.sizes[0] = int64_t(1) << 31;
  EXPECT_FALSE(kernels::fits_index32(l, l.sizes[0]));  // 2^31 elements: the 64-bit path
  l.sizes[0] = 1024;
  l.strides[0][0] = int64_t(1) << 21;  // 1023 * 2^21 < 2^31 - 1
  EXPECT_TRUE(kernels::fits_index32(l, 1024));
  l.strides[0][0] = (int64_t(1) << 21) + 4096;  // the last offset, 2,149,576,704, is past 2^31 - 1
  EXPECT_FALSE(kernels::fits_index32(l, 1024));
  l.strides[0][0] = -1;
  EXPECT_FALSE(kernels::fits_index32(l, 1024));  // negative strides: the 64-bit path
}

}  // namespace
}  // namespace ember
