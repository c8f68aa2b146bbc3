// TrainStep: one training step - forward, cross-entropy loss, backward, optimiser step - run
// eagerly or, in graph mode on a GPU, captured once into a CUDA graph and replayed, so that
// a whole step costs one launch instead of hundreds (issue 7).
//
// Graph mode: the first `warmup` calls (at least 1) with batches of `batch_size` images (any
// size when 0) run eagerly, which makes cuDNN measure its algorithms, the optimiser allocate
// its state and the allocator reach a steady state. The next such call copies the batch into
// static input tensors, captures the step and replays it; later calls of that shape copy and
// replay. A batch of another shape (the smaller last batch of an epoch) runs eagerly. If the
// capture fails, graph_failure() says why and every later call runs eagerly: the results
// stay right, only slower. A replay reads the learning rates and the step count from the
// device (the capturable optimiser), nothing else: other hyperparameters are fixed when the
// graph is captured.
//
// The returned logits and loss are detached. In graph mode they are the graph's own output
// tensors and the next call overwrites them, so queue the work that reads them first.
#pragma once

#include <memory>
#include <string>

#include "core/tensor.h"
#include "nn/module.h"
#include "optim/optimizer.h"

namespace ember {

class CudaGraph;

struct TrainStepOptions {
  bool cuda_graph = false;  // needs a CUDA model and a capturable optimiser
  int warmup = 3;           // eager calls before the capture (graph mode: at least 1)
  int64_t batch_size = 0;   // the batch size to capture (0: the first one after the warm-up)
  double label_smoothing = 0;
};

class TrainStep {
 public:
  struct Result {
    Tensor logits, loss;
  };

  // Throws ember::UsageError for graph mode with a CPU model, a non-capturable optimiser or
  // no warm-up call.
  TrainStep(nn::Module& model, optim::Optimizer& optimizer, TrainStepOptions options);
  ~TrainStep();

  Result run(const Tensor& images, const Tensor& labels);

  bool replayed_last() const { return replayed_last_; }  // the last call replayed the graph
  const std::string& graph_failure() const { return graph_failure_; }
  int64_t graph_pool_bytes() const;

 private:
  Result eager(const Tensor& images, const Tensor& labels);
  bool try_capture(const Tensor& images, const Tensor& labels);

  nn::Module& model_;
  optim::Optimizer& optimizer_;
  TrainStepOptions options_;
  int warmups_ = 0;  // eager warm-up calls at the capture size so far
  bool replayed_last_ = false;
  std::string graph_failure_;
  std::unique_ptr<CudaGraph> graph_;
  Tensor static_images_, static_labels_;
  Result static_out_;
};

}  // namespace ember
