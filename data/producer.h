// BatchProducer: how a Loader gets its batches made, one batch in flight at a time while the
// caller uses the previous one (prefetch). Internal to data/. Of the three similar names:
// data/source.h turns a --data string into data sets, data/loader.h (Loader, the public API)
// cuts a data set into batches epoch by epoch, and this header is the Loader's worker that
// makes the next batch ahead of time.
//   make_inline_producer: no overlap; the batch is made when the loader hands it out.
//   make_thread_producer: CPU; a worker thread makes the next batch (OpenMP inside).
//   make_stream_producer: CUDA; the next batch is made on a second stream (data/cuda_hooks.h).
#pragma once

#include <memory>

#include "data/augment.h"

namespace ember::data::detail {

class BatchProducer {
 public:
  virtual ~BatchProducer() = default;
  // Starts making the batch at positions [first, first + count) of src's order. At most one
  // batch is in flight: finish() or cancel() it before starting another.
  virtual void start(const BatchSource& src, int64_t first, int64_t count, const kernels::AugmentParams& params) = 0;
  // The batch in flight, ready to use on ember's stream (CPU: finished; CUDA: ember's stream
  // is ordered after it, without a host synchronisation).
  virtual void finish(Tensor& images, Tensor& labels) = 0;
  // Forgets the batch in flight, if any, once nothing touches its memory any more. Never throws.
  virtual void cancel() noexcept = 0;
};

// The batch request a producer holds until it makes it.
struct BatchRequest {
  BatchSource src;
  int64_t first = 0;
  int64_t count = 0;
  kernels::AugmentParams params;
  bool active = false;
};

// New output tensors for `count` samples on `device`.
void allocate_batch(int64_t count, Device device, Tensor& images, Tensor& labels);

std::unique_ptr<BatchProducer> make_inline_producer();
std::unique_ptr<BatchProducer> make_thread_producer();

}  // namespace ember::data::detail
