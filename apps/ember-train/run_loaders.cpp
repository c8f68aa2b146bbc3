#include "apps/ember-train/run_loaders.h"

#include "core/autograd/grad_mode.h"
#include "core/ops.h"

namespace ember::train {

RunLoaders::RunLoaders(const DataPlan& plan, const TrainConfig& c, uint64_t seed, Device device) : plan_(plan) {
  train_options_.batch_size = c.batch_size;
  train_options_.shuffle = true;
  train_options_.augment = c.parsed.augment;
  train_options_.normalize = c.parsed.normalization;
  train_options_.seed = seed;
  train_options_.device = device;
  test_options_ = train_options_;
  test_options_.shuffle = false;
  test_options_.augment = data::Augment::None;
}

void RunLoaders::use_epoch(int epoch) {
  if (plan_.phase(epoch) == phase_) return;
  phase_ = plan_.phase(epoch);
  train_ = std::make_unique<data::Loader>(plan_.train(epoch), train_options_);
  test_ = test_loader(plan_.test(epoch));
  if (plan_.shift.kind == ShiftKind::Classes && !test_low_) {
    test_low_ = test_loader(plan_.test_low);
    test_high_ = test_loader(plan_.test_high);
  }
  if (plan_.validation.size() > 0 && !validation_) validation_ = test_loader(plan_.validation);
}

std::unique_ptr<data::Loader> RunLoaders::test_loader(const data::Dataset& data) const {
  return std::make_unique<data::Loader>(data, test_options_);
}

Evaluation evaluate(nn::Module& model, data::Loader& loader) {
  if (loader.size() == 0) return {};
  NoGradGuard no_grad;
  model.eval();
  Tensor loss_sum = zeros({}, TensorOptions(DType::Float64).device(loader.options().device));
  Tensor correct = zeros({}, TensorOptions(DType::Int64).device(loader.options().device));
  loader.start_epoch(0);
  data::Batch batch;
  while (loader.next(batch)) {
    Tensor logits = model(batch.images);
    loss_sum.add_(cross_entropy(logits, batch.labels).to(DType::Float64) * static_cast<double>(batch.size()));
    correct.add_(count_correct(logits, batch.labels));
  }
  model.train();
  const double n = static_cast<double>(loader.size());
  return {loss_sum.item() / n, correct.item() / n};
}

}  // namespace ember::train
