// The batch-norm kernels' index paths (Note [batch-norm index paths] in
// kernels/nn_batch_norm_rule.h): the 32-bit form (multiply-shift divisions) gives the 64-bit
// form's channel and offset for every element of NCHW and NHWC shapes; a pack of
// bn_pack_width values never straddles a channel (NCHW) and holds consecutive channels
// (NHWC); and split ranges in packs tile each channel with pack-aligned bounds. Exact: all
// integers.
#include <vector>

#include <gtest/gtest.h>

#include "kernels/nn_batch_norm_rule.h"

namespace ember {
namespace {

using kernels::BnIndex32;
using kernels::BnIndex64;
using kernels::BnShape;

const std::vector<BnShape> kShapes = {
    {1, 1, 1},           {3, 5, 7},          {2, 64, 1024},      {4, 3, 16},         {2, 7, 49},
    {1, 1, 1, true},     {3, 5, 7, true},    {2, 64, 64, true},  {4, 24, 9, true},   {2, 320, 4, true},
};

TEST(BatchNormIndex, ThirtyTwoBitChannelsAndOffsetsEqualTheSixtyFourBitOnes) {
  for (const BnShape& s : kShapes) {
    SCOPED_TRACE(::testing::Message() << s.batch << "x" << s.channels << "x" << s.plane << (s.nhwc ? " NHWC" : ""));
    const BnIndex64 wide{s};
    const BnIndex32 narrow(s);
    for (int64_t i = 0; i < s.total(); ++i)
      ASSERT_EQ(int64_t(narrow.channel_of(uint32_t(i))), wide.channel_of(i)) << "element " << i;
    for (int64_t c = 0; c < s.channels; ++c)
      for (int64_t j = 0; j < s.count(); ++j)
        ASSERT_EQ(int64_t(narrow.offset(uint32_t(j), uint32_t(c))), wide.offset(j, c)) << "channel " << c << " j " << j;
  }
}

TEST(BatchNormIndex, PacksStayInsideAChannelOrHoldConsecutiveChannels) {
  for (const BnShape& s : kShapes) {
    for (int bytes : {2, 4}) {
      SCOPED_TRACE(::testing::Message() << s.batch << "x" << s.channels << "x" << s.plane << (s.nhwc ? " NHWC" : "")
                                        << " " << bytes << "-byte values");
      const int width = kernels::bn_pack_width(s, bytes);
      EXPECT_TRUE(width == 1 || width == 16 / bytes);
      const BnIndex64 index{s};
      for (int64_t i0 = 0; i0 < s.total(); i0 += width) {
        const int64_t c0 = index.channel_of(i0);
        for (int e = 0; e < width; ++e)
          ASSERT_EQ(index.channel_of(i0 + e), s.nhwc ? c0 + e : c0) << "pack at " << i0 << " value " << e;
      }
    }
  }
  EXPECT_EQ(kernels::bn_pack_width({2, 64, 1024}, 2), 8);        // NCHW bfloat16: 16-byte packs
  EXPECT_EQ(kernels::bn_pack_width({2, 7, 49}, 2), 1);           // a 7x7 plane: scalar
  EXPECT_EQ(kernels::bn_pack_width({2, 64, 49, true}, 4), 4);    // NHWC float: C = 64
  EXPECT_EQ(kernels::bn_pack_width({2, 3, 1024, true}, 2), 1);   // NHWC, 3 channels: scalar
}

TEST(BatchNormIndex, PackAlignedSplitsTileEachChannel) {
  for (int64_t count : {int64_t(8), int64_t(64), int64_t(1000), int64_t(8 * 1031)}) {
    for (int width : {1, 4, 8}) {
      if (count % width != 0) continue;
      for (int splits : {1, 3, 64, 2000}) {
        int64_t next = 0;
        for (int k = 0; k < splits; ++k) {
          int64_t begin = 0, end = 0;
          kernels::bn_split_range(count, k, splits, &begin, &end, width);
          ASSERT_EQ(begin, next) << count << " " << width << " " << splits << " split " << k;
          ASSERT_GE(end, begin);
          ASSERT_EQ(begin % width, 0);
          ASSERT_EQ(end % width, 0);
          next = end;
        }
        ASSERT_EQ(next, count) << count << " " << width << " " << splits;
      }
    }
  }
}

}  // namespace
}  // namespace ember
