// The CUDA data path against the CPU path: the batch kernel and the Loader (second stream,
// events, prefetch) must give bit-identical batches for the same seed, epoch and batch; every
// new CUDA allocation is poisoned with NaN, so an unwritten element fails. Tolerance: none -
// both devices read the same precomputed normalisation table and the same Philox draws, so
// any difference is a bug.
#include <gtest/gtest.h>

#include <random>

#include "core/backend.h"
#include "core/ops.h"
#include "data/augment.h"
#include "data/loader.h"
#include "data/shuffle.h"
#include "data/synthetic.h"
#include "tests/data/data_test_util.h"
#include "tests/support/compare.h"
#include "tests/support/gpu_test.h"

namespace ember {
namespace {

using data::Batch;
using data::Loader;
using data::LoaderOptions;
using testing::bit_equal;
using testing::epoch_batches;

class DataCuda : public testing::GpuTest {
 protected:
  // A data set of random bytes (fixed seed per call site), so every pixel value occurs.
  static data::Dataset random_dataset(int64_t n, uint32_t seed) {
    data::Dataset d = data::empty_dataset(n);
    std::mt19937 rng(seed);
    auto* px = d.images.data<uint8_t>();
    for (int64_t i = 0; i < d.images.numel(); ++i) px[i] = static_cast<uint8_t>(rng() & 0xFF);
    auto* lb = d.labels.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) lb[i] = static_cast<int64_t>(rng() % 10);
    return d;
  }
};

TEST_F(DataCuda, KernelMatchesCpuOnAwkwardBatches) {
  const int64_t n = 1031;
  const data::Dataset host = random_dataset(n, 1);
  const Device gpu = Device::cuda();
  for (const char* norm_text : {"half", "cifar", "0.3,0.1,0.9/0.7,0.05,3"}) {
    const data::Normalization norm = data::parse_normalization(norm_text);
    const std::vector<int64_t> order = data::epoch_order(n, 9, 2);
    const data::BatchSource cpu = {host, from_vector(order, {n}), data::normalize_table(norm, Device::cpu())};
    const data::BatchSource cuda = {data::to_device(host, gpu), cpu.order.to(gpu), data::normalize_table(norm, gpu)};
    for (data::Augment aug : {data::Augment::None, data::Augment::Standard}) {
      // Batch sizes around the kernel's block and grid sizes; starts that are not multiples.
      for (auto [first, count] :
           std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {5, 3}, {17, 255}, {100, 257}, {0, n}, {n - 2, 2}}) {
        SCOPED_TRACE(std::string(norm_text) + " " + data::augment_name(aug) + " first " + std::to_string(first) +
                     " count " + std::to_string(count));
        const auto params = data::augment_params(aug, 77, 4);
        Tensor ci = empty({count, 3, 32, 32}), cl = empty({count}, DType::Int64);
        data::augment_batch(cpu, first, count, params, ci, cl);
        Tensor gi = empty({count, 3, 32, 32}, TensorOptions(DType::Float32).device(gpu));
        Tensor gl = empty({count}, TensorOptions(DType::Int64).device(gpu));
        data::augment_batch(cuda, first, count, params, gi, gl);
        EXPECT_TRUE(bit_equal(gi, ci));
        EXPECT_TRUE(bit_equal(gl, cl));
      }
    }
  }
}

TEST_F(DataCuda, LoaderMatchesCpuWithAndWithoutPrefetch) {
  struct Case {
    int64_t n, batch;
    bool drop_last;
    data::Augment augment;
  };
  for (const Case& c :
       {Case{1, 1, false, data::Augment::Standard}, Case{3, 2, false, data::Augment::None},
        Case{1027, 256, false, data::Augment::Standard}, Case{700, 128, true, data::Augment::Standard}}) {
    SCOPED_TRACE("n " + std::to_string(c.n) + " batch " + std::to_string(c.batch));
    const data::Dataset d = data::make_synthetic_split(c.n, 2, data::SyntheticSplit::Train);
    LoaderOptions o;
    o.batch_size = c.batch;
    o.drop_last = c.drop_last;
    o.augment = c.augment;
    o.normalize = data::Normalization::cifar();
    o.seed = 123;
    Loader cpu(d, o);
    o.device = Device::cuda();
    Loader prefetched(d, o);
    o.prefetch = false;
    Loader plain(d, o);
    for (int64_t e : {0, 1, 7}) {
      // Every batch is held to the end: later batches must not overwrite earlier ones.
      const auto want = epoch_batches(cpu, e), got = epoch_batches(prefetched, e);
      const auto got_plain = epoch_batches(plain, e);
      ASSERT_EQ(got.size(), want.size());
      ASSERT_EQ(got_plain.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(got[i].images.device(), Device::cuda());
        EXPECT_TRUE(bit_equal(got[i].images, want[i].images)) << "epoch " << e << " batch " << i;
        EXPECT_TRUE(bit_equal(got[i].labels, want[i].labels)) << "epoch " << e << " batch " << i;
        EXPECT_TRUE(bit_equal(got_plain[i].images, want[i].images)) << "epoch " << e << " batch " << i;
      }
    }
  }
}

TEST_F(DataCuda, BatchesAreReadyForWorkQueuedOnEmbersStream) {
  // The consumer's work runs on ember's stream right after next(), with no synchronisation by
  // the test: a copy made there must be the finished batch (not the NaN poison or half of
  // it). A chain of matmuls between steps keeps ember's stream busy while the side stream
  // prepares the next batch.
  const data::Dataset d = data::make_synthetic_split(2000, 3, data::SyntheticSplit::Train);
  LoaderOptions o;
  o.batch_size = 200;
  o.augment = data::Augment::Standard;
  o.seed = 5;
  Loader cpu(d, o);
  o.device = Device::cuda();
  Loader gpu(d, o);
  Tensor busy = rand({1024, 1024}).to(Device::cuda());
  gpu.start_epoch(3);
  std::vector<Tensor> copies;
  Batch g;
  while (gpu.next(g)) {
    copies.push_back(g.images.clone());
    g = Batch();  // the batch's memory goes back to the pool (ordered on ember's stream)
    busy = matmul(busy, busy) * (1.0 / 1024);
  }
  const auto want = epoch_batches(cpu, 3);
  ASSERT_EQ(copies.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(bit_equal(copies[i], want[i].images)) << "batch " << i;
}

TEST_F(DataCuda, AbandonedAndDestroyedLoadersAreSafe) {
  // Destroying or restarting a loader with a batch in flight orders the frees after the
  // kernel (compute-sanitizer's memcheck, run by gpu-check.sh, would see a use after free).
  const data::Dataset d = random_dataset(600, 4);
  LoaderOptions o;
  o.batch_size = 64;
  o.augment = data::Augment::Standard;
  o.device = Device::cuda();
  for (int round = 0; round < 5; ++round) {
    Loader l(d, o);
    l.start_epoch(round);
    if (round % 2) {
      Batch b;
      ASSERT_TRUE(l.next(b));
      l.start_epoch(round + 1);  // abandons the next batch in flight
    }
  }
  backend_for(Device::cuda()).synchronize();
  // A loader over a data set already on the GPU uses it without a copy.
  Loader on_gpu(data::to_device(d, Device::cuda()), o);
  EXPECT_EQ(on_gpu.data().images.device(), Device::cuda());
  EXPECT_EQ(epoch_batches(on_gpu, 0).size(), 10u);
}

}  // namespace
}  // namespace ember
