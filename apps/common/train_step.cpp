#include "apps/common/train_step.h"

#include <exception>

#include "core/cuda_graph.h"
#include "core/error.h"
#include "core/ops.h"

namespace ember {

TrainStep::TrainStep(nn::Module& model, optim::Optimizer& optimizer, TrainStepOptions options)
    : model_(model), optimizer_(optimizer), options_(options) {
  if (!options_.cuda_graph) return;
  EMBER_USAGE_CHECK(optimizer_.parameters().device().is_cuda(), "CUDA graphs need the model on a GPU");
  EMBER_USAGE_CHECK(optimizer_.capturable(),
                    "a CUDA graph of the training step needs a capturable optimiser (add capturable=true)");
  EMBER_USAGE_CHECK(options_.warmup >= 1,
                    "a CUDA graph of the training step needs at least one eager warm-up step (cuDNN chooses its "
                    "algorithms there; a capture cannot)");
}

TrainStep::~TrainStep() = default;

int64_t TrainStep::graph_pool_bytes() const { return graph_ ? graph_->pool_bytes() : 0; }

TrainStep::Result TrainStep::eager(const Tensor& images, const Tensor& labels) {
  Tensor logits = model_(images);
  Tensor loss = cross_entropy(logits, labels, options_.label_smoothing);
  optimizer_.zero_grad();
  loss.backward();
  optimizer_.step();
  return {logits.detach(), loss.detach()};
}

// Captures the step on static copies of this batch; false (and graph_failure_ set) if CUDA
// refused. The captured work has not run yet: the caller replays it.
bool TrainStep::try_capture(const Tensor& images, const Tensor& labels) {
  static_images_ = images.detach().clone();
  static_labels_ = labels.detach().clone();
  try {
    graph_ = std::make_unique<CudaGraph>();
    graph_->capture([&] { static_out_ = eager(static_images_, static_labels_); });
    return true;
  } catch (const std::exception& e) {
    graph_failure_ = e.what();
    graph_.reset();
    static_out_ = {};
    static_images_ = static_labels_ = Tensor();
    return false;
  }
}

TrainStep::Result TrainStep::run(const Tensor& images, const Tensor& labels) {
  replayed_last_ = false;
  // Only batches of the captured size count as warm-up: cuDNN must have planned that shape.
  const bool capture_shape = options_.batch_size <= 0 || images.size(0) == options_.batch_size;
  if (!options_.cuda_graph || !graph_failure_.empty() || !capture_shape) return eager(images, labels);
  if (warmups_ < options_.warmup) {
    ++warmups_;
    return eager(images, labels);
  }
  if (!graph_) {
    if (!try_capture(images, labels)) return eager(images, labels);
  } else if (images.sizes() != static_images_.sizes() || labels.sizes() != static_labels_.sizes()) {
    return eager(images, labels);
  } else {
    static_images_.copy_(images);
    static_labels_.copy_(labels);
  }
  graph_->replay();
  replayed_last_ = true;
  return static_out_;
}

}  // namespace ember
