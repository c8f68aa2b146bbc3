// Shuffle (a permutation, reproducible per seed, different per epoch) and the Loader on the
// CPU: batch counts with and without the partial batch, every sample once per epoch,
// reproducibility, prefetch giving the same batches as no prefetch, and its misuse errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "data/loader.h"
#include "data/shuffle.h"
#include "data/synthetic.h"
#include "tests/data/data_test_util.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using data::Batch;
using data::Loader;
using data::LoaderOptions;
using testing::epoch_batches;
using testing::throws_with;
using V = std::vector<int64_t>;

bool is_permutation_of_n(V order) {
  std::sort(order.begin(), order.end());
  for (size_t i = 0; i < order.size(); ++i)
    if (order[i] != static_cast<int64_t>(i)) return false;
  return true;
}

TEST(Shuffle, PermutationReproducibleAndNewEachEpoch) {
  for (int64_t n : {0, 1, 2, 7, 1000}) {
    const V a = data::epoch_order(n, 11, 0);
    EXPECT_TRUE(is_permutation_of_n(a)) << n;
    EXPECT_EQ(a, data::epoch_order(n, 11, 0)) << n;
  }
  const V e0 = data::epoch_order(1000, 11, 0), e1 = data::epoch_order(1000, 11, 1), s2 = data::epoch_order(1000, 12, 0);
  EXPECT_NE(e0, e1);
  EXPECT_NE(e0, s2);
  // Not merely rotated or locally perturbed: few fixed points (expected 1).
  int fixed = 0;
  for (int64_t i = 0; i < 1000; ++i) fixed += e0[i] == i;
  EXPECT_LT(fixed, 8);
  V identity(50);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(data::epoch_order(50, 11, 3, /*shuffle=*/false), identity);
}

TEST(Shuffle, EveryPositionIsEquallyLikely) {
  // Where sample 0 lands over 3000 epochs of n = 6: each slot Binomial(3000, 1/6), mean 500,
  // sd 20.4; 5 sd either way. Catches an off-by-one in the Fisher-Yates bound.
  std::vector<int> where(6, 0);
  for (int64_t e = 0; e < 3000; ++e) {
    const V o = data::epoch_order(6, 5, e);
    where[std::find(o.begin(), o.end(), 0) - o.begin()]++;
  }
  for (int slot = 0; slot < 6; ++slot) EXPECT_NEAR(where[slot], 500, 102) << "slot " << slot;
}

LoaderOptions options(int64_t batch, bool drop_last, data::Augment augment = data::Augment::None) {
  LoaderOptions o;
  o.batch_size = batch;
  o.drop_last = drop_last;
  o.augment = augment;
  o.seed = 17;
  return o;
}

TEST(Loader, PartialLastBatchKeptOrDropped) {
  const data::Dataset d = testing::patterned_dataset(10);
  Loader keep(d, options(4, false)), drop(d, options(4, true));
  EXPECT_EQ(keep.batches_per_epoch(), 3);
  EXPECT_EQ(keep.samples_per_epoch(), 10);
  EXPECT_EQ(drop.batches_per_epoch(), 2);
  EXPECT_EQ(drop.samples_per_epoch(), 8);
  const auto k = epoch_batches(keep, 0), dr = epoch_batches(drop, 0);
  ASSERT_EQ(k.size(), 3u);
  ASSERT_EQ(dr.size(), 2u);
  EXPECT_EQ(k[0].size(), 4);
  EXPECT_EQ(k[2].size(), 2);
  EXPECT_EQ(k[2].images.sizes(), Shape({2, 3, 32, 32}));
  EXPECT_EQ(k[2].index, 2);
  EXPECT_EQ(k[2].epoch, 0);
  // Dropping changes nothing but the end.
  EXPECT_BIT_EQUAL(dr[1].images, k[1].images);
  // Batch size dividing n: no partial batch either way.
  Loader exact(d, options(5, false));
  EXPECT_EQ(exact.batches_per_epoch(), 2);
  // Larger than the data set.
  Loader big(d, options(64, true));
  EXPECT_EQ(big.batches_per_epoch(), 0);
  EXPECT_TRUE(epoch_batches(big, 0).empty());
}

TEST(Loader, EverySampleOncePerEpochWithItsLabel) {
  // Normalisation mean 0, std 1 makes each output value byte/255, so samples can be recognised.
  const int64_t n = 37;
  const data::Dataset d = testing::patterned_dataset(n);
  LoaderOptions o = options(8, false);
  o.normalize = data::parse_normalization("0,0,0/1,1,1");
  Loader loader(d, o);
  const auto px = d.images.to_vector<uint8_t>();
  const auto lb = d.labels.to_vector<int64_t>();
  for (int64_t epoch : {0, 1}) {
    std::vector<int> seen(n, 0);
    V order;
    for (const Batch& b : epoch_batches(loader, epoch)) {
      const auto img = b.images.to_vector<float>();
      const auto labels = b.labels.to_vector<int64_t>();
      for (int64_t i = 0; i < b.size(); ++i) {
        // Find the sample whose bytes these are (the first 8 bytes identify it here).
        int64_t found = -1;
        for (int64_t s = 0; s < n && found < 0; ++s) {
          bool same = true;
          for (int j = 0; j < 8 && same; ++j) same = std::lround(img[i * 3072 + j] * 255) == px[s * 3072 + j];
          if (same) found = s;
        }
        ASSERT_GE(found, 0);
        seen[found]++;
        order.push_back(found);
        EXPECT_EQ(labels[i], lb[found]);
      }
    }
    for (int64_t s = 0; s < n; ++s) EXPECT_EQ(seen[s], 1) << "sample " << s << " epoch " << epoch;
    EXPECT_EQ(order, data::epoch_order(n, 17, epoch));
  }
}

TEST(Loader, ReproduciblePerSeedAndEpochWhateverTheCallOrder) {
  const data::Dataset d = data::make_synthetic_split(50, 3, data::SyntheticSplit::Train);
  Loader a(d, options(16, false, data::Augment::Standard)), b(d, options(16, false, data::Augment::Standard));
  const auto a3 = epoch_batches(a, 3), a1 = epoch_batches(a, 1);
  const auto b1 = epoch_batches(b, 1), b3 = epoch_batches(b, 3);
  ASSERT_EQ(a3.size(), 4u);
  for (size_t i = 0; i < a3.size(); ++i) {
    EXPECT_BIT_EQUAL(a3[i].images, b3[i].images);
    EXPECT_BIT_EQUAL(a1[i].labels, b1[i].labels);
  }
  EXPECT_FALSE(testing::bit_equal(a3[0].images, a1[0].images));
  LoaderOptions other = options(16, false, data::Augment::Standard);
  other.seed = 18;
  Loader c(d, other);
  EXPECT_FALSE(testing::bit_equal(epoch_batches(c, 3)[0].images, a3[0].images));
}

TEST(Loader, PrefetchGivesTheSameBatchesAndTheyStayValid) {
  const data::Dataset d = data::make_synthetic_split(70, 4, data::SyntheticSplit::Train);
  LoaderOptions o = options(16, false, data::Augment::Standard);
  o.normalize = data::Normalization::cifar();
  Loader pre(d, o);
  o.prefetch = false;
  Loader plain(d, o);
  for (int64_t epoch : {0, 5}) {
    // All batches are held until the end: each has its own memory.
    const auto p = epoch_batches(pre, epoch), q = epoch_batches(plain, epoch);
    ASSERT_EQ(p.size(), 5u);
    ASSERT_EQ(q.size(), 5u);
    for (size_t i = 0; i < p.size(); ++i) {
      EXPECT_BIT_EQUAL(p[i].images, q[i].images);
      EXPECT_BIT_EQUAL(p[i].labels, q[i].labels);
    }
  }
}

TEST(Loader, RestartingAnEpochMidwayAndMisuse) {
  const data::Dataset d = testing::patterned_dataset(20);
  Loader loader(d, options(3, false));
  Batch b;
  EXPECT_TRUE(throws_with<Error>([&] { loader.next(b); }, {"start_epoch"}));
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next(b));
  loader.start_epoch(0);  // abandons the batch in flight
  const auto all = epoch_batches(loader, 0);
  EXPECT_BIT_EQUAL(all[0].images, b.images);
  Batch untouched;
  EXPECT_FALSE(loader.next(untouched));
  EXPECT_FALSE(loader.next(untouched));
  EXPECT_FALSE(untouched.images.defined());
  EXPECT_TRUE(throws_with<Error>([&] { loader.start_epoch(-1); }, {"epoch -1"}));
  LoaderOptions bad = options(0, false);
  EXPECT_TRUE(throws_with<UsageError>([&] { Loader l(d, bad); }, {"batch size"}));
  Loader empty_loader(data::empty_dataset(0), options(4, false));
  EXPECT_TRUE(epoch_batches(empty_loader, 0).empty());
  // Destroyed with a batch in flight: no leak, no crash (ASan checks).
  Loader abandoned(d, options(3, false));
  abandoned.start_epoch(2);
}

TEST(Loader, UnusableCudaDeviceIsAClearError) {
  // Runs everywhere (a skip would fail gpu-check.sh): a CPU-only build, a machine without a
  // GPU, and a GPU machine asked for a device it does not have.
  LoaderOptions o = options(4, false);
  o.device = Device::cuda(cuda_available() ? 99 : 0);
  const char* expected = !cuda_built() ? "no CUDA support" : !cuda_available() ? "no CUDA GPU" : "cuda:99 requested";
  EXPECT_TRUE(throws_with<Error>([&] { Loader l(testing::patterned_dataset(4), o); }, {expected}));
}

}  // namespace
}  // namespace ember
