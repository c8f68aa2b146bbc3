// The CPU thread count: settable, and results do not depend on it.
#include <gtest/gtest.h>

#include "core/ops.h"
#include "core/parallel.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

TEST(Parallel, ThreadCountIsSettableAndResultsDoNotDependOnIt) {
  const int before = num_threads();
  EXPECT_GE(before, 1);
  Generator g(3);
  Tensor x = rand({300001}, DType::Float64, &g);
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  const double one = sum(x * x).item();
  const auto m1 = matmul(x.slice(0, 0, 300 * 1000).view({300, 1000}), x.slice(0, 0, 1000 * 7).view({1000, 7}));
  set_num_threads(2);
  EXPECT_EQ(num_threads(), 2);
  EXPECT_EQ(sum(x * x).item(), one);  // each output element is reduced by one thread
  EXPECT_TRUE(testing::all_close(
      matmul(x.slice(0, 0, 300 * 1000).view({300, 1000}), x.slice(0, 0, 1000 * 7).view({1000, 7})), m1, 1e-12, 1e-12));
  set_num_threads(0);
  EXPECT_EQ(num_threads(), before);
}

}  // namespace
}  // namespace ember
