// Gradient buckets in one process: the buckets tile the flat gradient buffer in backward
// order, the post-accumulate hooks start them while backward runs, a parameter outside the
// graph defers its bucket to finish(), and one rank leaves the gradients as they were.
#include <gtest/gtest.h>

#include "core/dist/communicator.h"
#include "optim/grad_buckets.h"
#include "tests/dist/mlp.h"
#include "tests/support/compare.h"

namespace ember::optim {
namespace {

using testing::Mlp;

TEST(GradientBuckets, TileTheBufferFromItsEnd) {
  Mlp mlp(1);
  FlatParameters flat(mlp.named, Device::cpu());
  auto comm = dist::make_local_communicator();
  for (int64_t bytes : {int64_t{1}, int64_t{64}, int64_t{400}, GradientBuckets::kDefaultBucketBytes}) {
    SCOPED_TRACE(bytes);
    GradientBuckets buckets(*comm, flat, bytes);
    const auto& b = buckets.buckets();
    ASSERT_FALSE(b.empty());
    EXPECT_EQ(b.front().end, flat.padded_numel());
    EXPECT_EQ(b.back().begin, 0);
    int parameters = 0;
    for (size_t i = 0; i < b.size(); ++i) {
      EXPECT_LT(b[i].begin, b[i].end);
      if (i + 1 < b.size()) {
        EXPECT_EQ(b[i].begin, b[i + 1].end);
        EXPECT_GE((b[i].end - b[i].begin) * 4, bytes);  // only the last may be short
      }
      parameters += b[i].parameters;
    }
    EXPECT_EQ(parameters, 5);
  }
  EXPECT_EQ(GradientBuckets(*comm, flat, 1).buckets().size(), 5u);  // one parameter each
  EXPECT_EQ(GradientBuckets(*comm, flat).buckets().size(), 1u);
}

TEST(GradientBuckets, StartDuringBackwardAndLeaveOneRanksGradientsAlone) {
  Mlp mlp(2), reference(2);
  FlatParameters flat(mlp.named, Device::cpu());
  FlatParameters reference_flat(reference.named, Device::cpu());
  auto comm = dist::make_local_communicator();
  GradientBuckets buckets(*comm, flat, 1);
  const auto [x, y] = testing::synthetic_batch(9, 3);
  for (int step = 0; step < 2; ++step) {  // the second backward reuses the reset counters
    flat.zero_grad();
    reference_flat.zero_grad();
    mlp.loss(x, y, 0, 9).backward();
    reference.loss(x, y, 0, 9).backward();
    buckets.finish();
    // One bucket per parameter, from the end: b2, w2, unused, b1, w1. Backward fires b2's and
    // w2's hooks first; "unused" never gets a gradient, so its bucket and those after it
    // (started in order on every rank) wait for finish().
    EXPECT_EQ(buckets.started_during_backward(), 2);
    EXPECT_BIT_EQUAL(flat.grads(), reference_flat.grads());
  }
}

TEST(GradientBuckets, HooksGoWithTheBuckets) {
  Mlp mlp(4);
  FlatParameters flat(mlp.named, Device::cpu());
  auto comm = dist::make_local_communicator();
  { GradientBuckets buckets(*comm, flat, 1); }
  const auto [x, y] = testing::synthetic_batch(4, 5);
  mlp.loss(x, y, 0, 4).backward();  // would call into the destroyed buckets if a hook were left
  SUCCEED();
}

}  // namespace
}  // namespace ember::optim
