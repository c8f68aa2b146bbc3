#include "data/producer.h"

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "core/error.h"

namespace ember::data::detail {

void allocate_batch(int64_t count, Device device, Tensor& images, Tensor& labels) {
  images = empty({count, kernels::kImageChannels, kernels::kImageSide, kernels::kImageSide},
                 TensorOptions(DType::Float32).device(device));
  labels = empty({count}, TensorOptions(DType::Int64).device(device));
}

namespace {

class InlineProducer final : public BatchProducer {
 public:
  void start(const BatchSource& src, int64_t first, int64_t count, const kernels::AugmentParams& params) override {
    EMBER_CHECK(!request_.active, "BatchProducer: a batch is already in flight");
    request_ = {src, first, count, params, true};
  }

  void finish(Tensor& images, Tensor& labels) override {
    EMBER_CHECK(request_.active, "BatchProducer: no batch in flight");
    BatchRequest r = std::move(request_);
    request_ = {};
    allocate_batch(r.count, r.src.data.device(), images, labels);
    augment_batch(r.src, r.first, r.count, r.params, images, labels);
  }

  void cancel() noexcept override { request_ = {}; }

 private:
  BatchRequest request_;
};

// One worker thread that runs one job at a time; an exception from the job is rethrown by
// wait(). The thread lives as long as the object (OpenMP keeps its team per thread, so a
// fresh thread per batch would rebuild the team every time).
class Worker {
 public:
  Worker() : thread_([this] { loop(); }) {}
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();  // after the job in flight, if any
  }

  void submit(std::function<void()> job) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !busy_; });
    job_ = std::move(job);
    busy_ = true;
    error_ = nullptr;
    cv_.notify_all();
  }

  // Waits for the job in flight; rethrows its exception unless `quiet`.
  void wait(bool quiet = false) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !busy_; });
    std::exception_ptr error = std::exchange(error_, nullptr);
    if (error && !quiet) std::rethrow_exception(error);
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || job_; });
      if (!job_) return;  // stop_ and nothing left to do
      std::function<void()> job = std::exchange(job_, nullptr);
      lock.unlock();
      std::exception_ptr error;
      try {
        job();
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      error_ = error;
      busy_ = false;
      cv_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts after the members it uses exist
};

class ThreadProducer final : public BatchProducer {
 public:
  void start(const BatchSource& src, int64_t first, int64_t count, const kernels::AugmentParams& params) override {
    EMBER_CHECK(!active_, "BatchProducer: a batch is already in flight");
    EMBER_CHECK(src.data.device().is_cpu(), "the thread producer makes CPU batches only");
    active_ = true;
    worker_.submit([this, src, first, count, params] {
      allocate_batch(count, Device::cpu(), images_, labels_);
      augment_batch(src, first, count, params, images_, labels_);
    });
  }

  void finish(Tensor& images, Tensor& labels) override {
    EMBER_CHECK(active_, "BatchProducer: no batch in flight");
    active_ = false;
    worker_.wait();  // images_ and labels_ are the worker's until it is done
    images = std::exchange(images_, Tensor());
    labels = std::exchange(labels_, Tensor());
  }

  void cancel() noexcept override {
    if (!active_) return;
    active_ = false;
    worker_.wait(/*quiet=*/true);
    images_ = labels_ = Tensor();
  }

  ~ThreadProducer() override { cancel(); }

 private:
  bool active_ = false;
  Tensor images_, labels_;
  Worker worker_;  // last: joined first, before the tensors its job writes go away
};

}  // namespace

std::unique_ptr<BatchProducer> make_inline_producer() { return std::make_unique<InlineProducer>(); }
std::unique_ptr<BatchProducer> make_thread_producer() { return std::make_unique<ThreadProducer>(); }

}  // namespace ember::data::detail
