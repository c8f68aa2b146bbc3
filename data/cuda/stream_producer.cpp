// Prefetch on the GPU: each batch is made on a second stream while ember's stream runs the
// training step, with no host synchronisation per batch.
//
// Note [prefetch stream ordering]
// ember's CUDA memory is stream-ordered on ember's stream (core/cuda/cuda_allocator.cpp), so
// every hand-over between the two streams goes through an event:
//   start():  the output tensors are allocated (and, in tests, poisoned) on ember's stream;
//             event `inputs_` is recorded there and the side stream waits on it, so the kernel
//             runs after the allocation and after every step queued so far - in particular
//             after the work that read the data set, order and table it reads too.
//   finish(): ember's stream waits on event `ready_`, recorded after the kernel on the side
//             stream, so whatever the caller queues next sees the finished batch; the batch's
//             memory is freed later on ember's stream, after that wait.
//   cancel(): the same wait, then the batch is dropped: its memory, and the inputs the kernel
//             reads, are only freed after the kernel.
// cudaStreamWaitEvent captures the event's state when it is called, so re-recording an event
// for the next batch does not disturb an earlier wait.
#include <utility>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "data/cuda_hooks.h"

namespace ember::data::detail {

namespace {

class StreamProducer final : public BatchProducer {
 public:
  StreamProducer() {
    EMBER_CUDA_CHECK(cudaStreamCreateWithFlags(&side_, cudaStreamNonBlocking));
    EMBER_CUDA_CHECK(cudaEventCreateWithFlags(&inputs_, cudaEventDisableTiming));
    EMBER_CUDA_CHECK(cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));
  }
  StreamProducer(const StreamProducer&) = delete;
  StreamProducer& operator=(const StreamProducer&) = delete;

  ~StreamProducer() override {
    cancel();
    EMBER_CUDA_LOG_ERROR(cudaEventDestroy(ready_));
    EMBER_CUDA_LOG_ERROR(cudaEventDestroy(inputs_));
    EMBER_CUDA_LOG_ERROR(cudaStreamDestroy(side_));
  }

  void start(const BatchSource& src, int64_t first, int64_t count, const kernels::AugmentParams& params) override {
    EMBER_CHECK(!active_, "BatchProducer: a batch is already in flight");
    allocate_batch(count, src.data.device(), images_, labels_);
    EMBER_CUDA_CHECK(cudaEventRecord(inputs_, cuda::stream()));
    EMBER_CUDA_CHECK(cudaStreamWaitEvent(side_, inputs_, 0));
    src_ = src;
    active_ = true;  // from here on, cancel() must order ember's stream after the side stream
    try {
      augment_batch(src, first, count, params, images_, labels_, side_);
      EMBER_CUDA_CHECK(cudaEventRecord(ready_, side_));
    } catch (...) {
      cancel();
      throw;
    }
  }

  void finish(Tensor& images, Tensor& labels) override {
    EMBER_CHECK(active_, "BatchProducer: no batch in flight");
    active_ = false;
    EMBER_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(), ready_, 0));
    images = std::exchange(images_, Tensor());
    labels = std::exchange(labels_, Tensor());
    src_ = {};
  }

  void cancel() noexcept override {
    if (active_) {
      // If the launch failed before ready_ was recorded, the side stream's last work is the
      // wait on inputs_, so waiting for the whole side stream is always right here.
      EMBER_CUDA_LOG_ERROR(cudaEventRecord(ready_, side_));
      EMBER_CUDA_LOG_ERROR(cudaStreamWaitEvent(cuda::stream(), ready_, 0));
      active_ = false;
    }
    images_ = labels_ = Tensor();
    src_ = {};
  }

 private:
  cudaStream_t side_ = nullptr;
  cudaEvent_t inputs_ = nullptr, ready_ = nullptr;
  bool active_ = false;
  BatchSource src_;  // keeps the kernel's inputs alive until ember's stream is past it
  Tensor images_, labels_;
};

}  // namespace

std::unique_ptr<BatchProducer> make_stream_producer() { return std::make_unique<StreamProducer>(); }

}  // namespace ember::data::detail
