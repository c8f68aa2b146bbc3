// channels_last (Note [channels_last] in core/ops/view_ops.cpp): which tensors count as NHWC,
// the differentiable conversion, and elementwise ops keeping NHWC when their full-shape
// operands are NHWC - always with the same values as in NCHW - and walking NHWC operands as
// one flat range.
#include <gtest/gtest.h>

#include "core/ops.h"
#include "core/strided_layout.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

Tensor random(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  Tensor t = empty(shape);
  return uniform_(t, -2, 2, &g);
}

TEST(ChannelsLast, LayoutPredicates) {
  const Tensor nchw = random({2, 3, 4, 5}, 1);
  EXPECT_FALSE(nchw.is_channels_last());
  const Tensor nhwc = empty_channels_last({2, 3, 4, 5});
  EXPECT_TRUE(nhwc.is_channels_last());
  EXPECT_FALSE(nhwc.is_contiguous());
  EXPECT_EQ(nhwc.strides(), (Shape{60, 1, 15, 3}));
  EXPECT_TRUE(empty({2, 1, 4, 5}).is_channels_last());  // one channel: both layouts at once
  EXPECT_TRUE(empty({2, 8, 1, 1}).is_channels_last());  // 1x1 planes too
  EXPECT_FALSE(random({3, 4, 5}, 2).is_channels_last());  // 4-D only
  EXPECT_FALSE(nhwc.slice(3, 0, 2).is_channels_last());   // not dense
  EXPECT_THROW(empty_channels_last({2, 3}), Error);
}

TEST(ChannelsLast, ConversionKeepsValuesAndPassesGradients) {
  const Tensor x = random({2, 3, 4, 5}, 3).set_requires_grad(true);
  const Tensor y = x.to_channels_last();
  EXPECT_TRUE(y.is_channels_last());
  EXPECT_BIT_EQUAL(y.contiguous(), x.detach());
  EXPECT_TRUE(y.to_channels_last().storage() == y.storage());  // already NHWC: itself
  sum(y * y).backward();
  EXPECT_BIT_EQUAL(x.grad(), (x.detach() * 2.0));
  // Casts keep the layout.
  const Tensor h = y.detach().to(DType::BFloat16);
  EXPECT_TRUE(h.is_channels_last() && !h.is_contiguous());
  EXPECT_BIT_EQUAL(h.contiguous(), x.detach().to(DType::BFloat16));
}

TEST(ChannelsLast, ElementwiseOpsKeepNhwcWhenTheirOperandsAreNhwc) {
  const Tensor a = random({2, 3, 4, 5}, 4), b = random({2, 3, 4, 5}, 5), c = random({1, 3, 1, 1}, 6);
  const Tensor al = a.to_channels_last(), bl = b.to_channels_last();
  const struct {
    const char* name;
    Tensor got, want;
    bool nhwc;
  } cases[] = {
      {"relu", relu(al), relu(a), true},
      {"add", al + bl, a + b, true},
      {"mul by a per-channel scale", al * c, a * c, true},
      {"scalar", al * 3.0 + 1.0, a * 3.0 + 1.0, true},
      {"mixed layouts", al + b, a + b, false},
      {"comparison", gt(al, bl), gt(a, b), true},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    EXPECT_EQ(k.got.is_channels_last() && !k.got.is_contiguous(), k.nhwc);
    EXPECT_BIT_EQUAL(k.got.contiguous(), k.want);
  }
  EXPECT_BIT_EQUAL(sum(al, {2, 3}), sum(a, {2, 3}));  // reductions read any layout
}

TEST(ChannelsLast, NhwcOperandsWalkMemoryAsOneFlatRange) {
  const Tensor a = empty_channels_last({2, 3, 4, 5}), b = empty_channels_last({2, 3, 4, 5});
  const auto layout = make_strided_layout<2>({&a, &b});
  EXPECT_EQ(layout.ndim, 1);
  EXPECT_TRUE(is_flat(layout));
  const Tensor nchw = empty({2, 3, 4, 5});
  EXPECT_FALSE(is_flat(make_strided_layout<2>({&a, &nchw})));  // mixed layouts stay strided
  EXPECT_TRUE(is_flat(make_strided_layout<2>({&nchw, &nchw})));
}

}  // namespace
}  // namespace ember
