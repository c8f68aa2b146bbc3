// The data side of one run: the loaders of the data phase an epoch belongs to (rebuilt when
// --shift changes the data), and the test figures of a model on a test loader.
#pragma once

#include <memory>

#include "apps/ember-train/config.h"
#include "apps/ember-train/data_plan.h"
#include "apps/ember-train/run_state.h"
#include "data/loader.h"
#include "nn/module.h"

namespace ember::train {

class RunLoaders {
 public:
  // Shuffled, augmented training batches and plain test batches, from the run's seed.
  RunLoaders(const DataPlan& plan, const TrainConfig& config, uint64_t seed, Device device);

  // Makes the loaders those of epoch `epoch`'s phase (0-based; no work within a phase).
  void use_epoch(int epoch);
  data::Loader& train() { return *train_; }
  data::Loader& test() { return *test_; }
  // --shift E:classes: the test set's halves (classes 0-4 and 5-9); null otherwise.
  data::Loader* test_low() { return test_low_.get(); }
  data::Loader* test_high() { return test_high_.get(); }
  // --tune: the held-out validation set; null otherwise.
  data::Loader* validation() { return validation_.get(); }
  // A test loader of other data (the shifted data, probed before training on it).
  std::unique_ptr<data::Loader> test_loader(const data::Dataset& data) const;

 private:
  const DataPlan& plan_;
  data::LoaderOptions train_options_, test_options_;
  int phase_ = -1;
  std::unique_ptr<data::Loader> train_, test_, test_low_, test_high_, validation_;
};

struct Evaluation {
  double loss = kNaN, accuracy = kNaN;  // NaN for an empty test set
};

// Mean cross-entropy and accuracy of `model` over every batch of `loader`, in eval mode (the
// model is back in training mode after).
Evaluation evaluate(nn::Module& model, data::Loader& loader);

}  // namespace ember::train
