// CUDA-event timing on ember's stream (CUDA builds only).
#include <algorithm>
#include <vector>

#include "apps/ember-bench-optim/timing.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/ops.h"

namespace ember::bench {

namespace {

// A CUDA event owned by one object (move-only; the destructor logs, never throws).
class Event {
 public:
  Event() { EMBER_CUDA_CHECK(cudaEventCreate(&event_)); }
  ~Event() {
    if (event_ != nullptr) EMBER_CUDA_LOG_ERROR(cudaEventDestroy(event_));
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  Event(Event&& other) noexcept : event_(other.event_) { other.event_ = nullptr; }
  Event& operator=(Event&&) = delete;
  void record() { EMBER_CUDA_CHECK(cudaEventRecord(event_, cuda::stream())); }
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Overwrites 256 MiB (five times an H100's or H200's L2) so that the measured work starts
// with a cold L2. The buffer is never freed: a device free during static destruction would
// race the CUDA runtime's own teardown.
void flush_l2() {
  static const Tensor* scratch = new Tensor(empty({int64_t(64) << 20}, TensorOptions().device(Device::cuda())));
  EMBER_CUDA_CHECK(cudaMemsetAsync(scratch->raw_data(), 0, scratch->nbytes(), cuda::stream()));
}

}  // namespace

double cuda_median_ms(const std::function<void()>& work, const TimingOptions& o) {
  for (int i = 0; i < o.warmup; ++i) work();
  Event start, stop;
  std::vector<double> ms;
  for (int i = 0; i < o.reps; ++i) {
    flush_l2();
    start.record();
    work();
    stop.record();
    EMBER_CUDA_CHECK(cudaEventSynchronize(stop.get()));
    float elapsed = 0;
    EMBER_CUDA_CHECK(cudaEventElapsedTime(&elapsed, start.get(), stop.get()));
    ms.push_back(elapsed);
  }
  return median(ms);
}

double cuda_copy_gb_per_s(const TimingOptions& o) {
  const int64_t bytes = int64_t(1) << 30;
  const Tensor src = empty({bytes / 4}, TensorOptions().device(Device::cuda()));
  const Tensor dst = empty({bytes / 4}, TensorOptions().device(Device::cuda()));
  const double ms = cuda_median_ms(
      [&] {
        EMBER_CUDA_CHECK(
            cudaMemcpyAsync(dst.raw_data(), src.raw_data(), bytes, cudaMemcpyDeviceToDevice, cuda::stream()));
      },
      o);
  return 2.0 * double(bytes) / (ms * 1e6);
}

}  // namespace ember::bench
