#include "data/loader.h"

#include <algorithm>

#include "core/error.h"
#include "data/cuda_hooks.h"
#include "data/producer.h"
#include "data/shuffle.h"

namespace ember::data {

Loader::Loader(const Dataset& data, LoaderOptions options) : options_(std::move(options)) {
  EMBER_USAGE_CHECK(options_.batch_size >= 1, "batch size must be at least 1, got {}", options_.batch_size);
  check_device_usable(options_.device);
  check_dataset(data, "Loader");
  source_.data = to_device(data, options_.device);
  source_.table = normalize_table(options_.normalize, options_.device);
  if (!options_.prefetch)
    producer_ = detail::make_inline_producer();
  else if (options_.device.is_cuda())
    producer_ = detail::make_stream_producer();
  else
    producer_ = detail::make_thread_producer();
}

Loader::~Loader() {
  if (producer_) producer_->cancel();
}

int64_t Loader::batches_per_epoch() const {
  const int64_t n = size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

int64_t Loader::samples_per_epoch() const {
  return options_.drop_last ? size() / options_.batch_size * options_.batch_size : size();
}

void Loader::start_epoch(int64_t epoch) {
  producer_->cancel();
  const std::vector<int64_t> order = epoch_order(size(), options_.seed, epoch, options_.shuffle);
  source_.order = from_vector(order, {size()}).to(options_.device);
  epoch_ = epoch;
  next_index_ = 0;
  if (batches_per_epoch() > 0) start_batch(0);
}

void Loader::start_batch(int64_t index) {
  const int64_t first = index * options_.batch_size;
  const int64_t count = std::min(options_.batch_size, size() - first);
  producer_->start(source_, first, count, augment_params(options_.augment, options_.seed, epoch_));
}

bool Loader::next(Batch& batch) {
  EMBER_CHECK(epoch_ >= 0, "Loader::next: call start_epoch first");
  if (next_index_ >= batches_per_epoch()) return false;
  Tensor images, labels;
  producer_->finish(images, labels);
  batch.images = images;
  batch.labels = labels;
  batch.epoch = epoch_;
  batch.index = next_index_++;
  if (next_index_ < batches_per_epoch()) start_batch(next_index_);
  return true;
}

}  // namespace ember::data
