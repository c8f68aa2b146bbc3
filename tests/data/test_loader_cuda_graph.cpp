// The prefetching GPU loader feeding a replayed CUDA graph, as ember-train's --cuda-graph
// does: each batch of the captured size is copied into the graph's static input and the graph
// replayed, the smaller last batch runs eagerly, and the next batch (across the epoch
// boundary, where start_epoch uploads a new order) is made on the loader's side stream while
// the replays run. Every replayed result must equal the eager computation on the CPU loader's
// batch (Note [prefetch stream ordering] in data/cuda/stream_producer.cpp: an ordering bug
// shows as a batch that is the previous one, half-written, or NaN poison). Exact: the
// computation is the same kernels on the same bits.
#include <gtest/gtest.h>

#include "core/backend.h"
#include "core/cuda_graph.h"
#include "core/ops.h"
#include "data/loader.h"
#include "data/synthetic.h"
#include "tests/data/data_test_util.h"
#include "tests/support/compare.h"
#include "tests/support/gpu_test.h"

namespace ember {
namespace {

using data::Batch;

using LoaderCudaGraph = testing::GpuTest;

// A stand-in for a training step: per-sample weighted sums and a label-dependent term, so
// that a wrong, stale or partly written batch changes the result.
Tensor step_function(const Tensor& images, const Tensor& labels, const Tensor& weights) {
  const Tensor per_sample = sum(images * weights, {1, 2, 3});
  return per_sample + labels.to(DType::Float32) * 0.25;
}

TEST_F(LoaderCudaGraph, PrefetchedBatchesFeedReplaysAcrossEpochBoundaries) {
  const data::Dataset d = data::make_synthetic_split(300, 11, data::SyntheticSplit::Train);
  data::LoaderOptions o;
  o.batch_size = 64;  // 4 full batches and one of 44 per epoch
  o.augment = data::Augment::Standard;
  o.seed = 9;
  data::Loader cpu(d, o);
  o.device = Device::cuda();
  data::Loader gpu(d, o);
  ASSERT_TRUE(gpu.options().prefetch);
  Generator g(4);
  const Tensor weights = randn({1, 3, 32, 32}, TensorOptions(), &g);
  const Tensor weights_gpu = weights.to(Device::cuda());

  Tensor static_images = zeros({64, 3, 32, 32}, Device::cuda());
  Tensor static_labels = zeros({64}, TensorOptions(DType::Int64).device(Device::cuda()));
  Tensor out;
  CudaGraph graph;
  graph.capture([&] { out = step_function(static_images, static_labels, weights_gpu); });

  int replays = 0;
  for (int64_t epoch : {0, 1, 2}) {
    const std::vector<Batch> want = testing::epoch_batches(cpu, epoch);
    gpu.start_epoch(epoch);
    Batch batch;
    std::vector<Tensor> got;
    while (gpu.next(batch)) {
      if (batch.size() == 64) {
        static_images.copy_(batch.images);
        static_labels.copy_(batch.labels);
        graph.replay();
        got.push_back(out.clone());  // queued before the next replay overwrites out
        ++replays;
      } else {
        got.push_back(step_function(batch.images, batch.labels, weights_gpu));
      }
      batch = Batch();  // freed on ember's stream while the next batch is made
    }
    ASSERT_EQ(got.size(), want.size()) << "epoch " << epoch;
    for (size_t i = 0; i < want.size(); ++i) {
      const Tensor expected = step_function(want[i].images.to(Device::cuda()), want[i].labels.to(Device::cuda()),
                                            weights_gpu);
      EXPECT_TRUE(testing::bit_equal(got[i], expected)) << "epoch " << epoch << " batch " << i;
    }
  }
  EXPECT_EQ(replays, 12);
}

}  // namespace
}  // namespace ember
