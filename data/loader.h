// Loader: batches of a Dataset for training and evaluation, epoch by epoch. The data sets come
// from data/source.h (a --data string) or data/cifar10.h; data/producer.h is the Loader's
// internal worker that makes the next batch ahead of time.
//
//   data::LoaderOptions opt;
//   opt.batch_size = 256;
//   opt.augment = data::Augment::Standard;
//   opt.normalize = data::Normalization::cifar();
//   opt.device = Device::cuda();
//   data::Loader loader(splits.train, opt);
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.start_epoch(epoch);
//     data::Batch batch;
//     while (loader.next(batch)) step(batch.images, batch.labels);
//   }
//
// On a GPU the whole uint8 data set is uploaded once (at construction) and each batch is ONE
// kernel (kernels/augment.cu) that gathers, crops, flips and normalises. With prefetch on
// (the default), the next batch is made while the caller uses the current one: on a second
// CUDA stream that ember's stream waits on through an event (Note [prefetch stream ordering]
// in data/cuda/stream_producer.cpp: no host synchronisation per batch), or on a worker thread
// on the CPU. start_epoch uploads the epoch's order (a host synchronisation once per epoch).
//
// The same options, seed, epoch and batch index give bit-identical batches on the CPU and on a
// GPU, with and without prefetch (Note [data random streams] in kernels/augment_rule.h).
#pragma once

#include <cstdint>
#include <memory>

#include "core/tensor.h"
#include "data/augment.h"
#include "data/dataset.h"

namespace ember::data {

namespace detail {
class BatchProducer;
}

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;     // a new order every epoch (data/shuffle.h); else data set order
  bool drop_last = false;  // drop the last batch when it is smaller than batch_size
  Augment augment = Augment::None;
  Normalization normalize = Normalization::half();
  uint64_t seed = 0;  // shuffle and augmentation streams
  Device device = Device::cpu();
  bool prefetch = true;  // make the next batch while the caller uses this one
};

struct Batch {
  Tensor images;  // float32 [b, 3, 32, 32] on the loader's device, normalised
  Tensor labels;  // int64 [b] on the loader's device
  int64_t epoch = -1;
  int64_t index = -1;  // batch index within the epoch

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

class Loader {
 public:
  // Copies `data` to options.device once (no copy when it is already there). Throws a clear
  // Error for a device this build or machine cannot use, UsageError for batch_size < 1.
  Loader(const Dataset& data, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  const LoaderOptions& options() const { return options_; }
  const Dataset& data() const { return source_.data; }  // on the loader's device
  int64_t size() const { return source_.data.size(); }
  int64_t batches_per_epoch() const;
  int64_t samples_per_epoch() const;  // size(), less the dropped partial batch

  // Begins epoch `epoch` (0 .. 2^32-1, any order, repeats allowed: an epoch's batches depend
  // only on the seed and the epoch) and starts making its first batch.
  void start_epoch(int64_t epoch);
  // The next batch of the epoch; false (batch untouched) once the epoch is exhausted. A batch
  // stays valid after later calls: each one has its own memory.
  bool next(Batch& batch);
  int64_t epoch() const { return epoch_; }  // -1 before the first start_epoch

 private:
  void start_batch(int64_t index);

  LoaderOptions options_;
  BatchSource source_;
  int64_t epoch_ = -1;
  int64_t next_index_ = 0;
  std::unique_ptr<detail::BatchProducer> producer_;  // last: cancelled before the tensors it reads go
};

}  // namespace ember::data
