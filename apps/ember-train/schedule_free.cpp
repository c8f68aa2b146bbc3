#include "apps/ember-train/schedule_free.h"

#include <cstdio>

#include "core/autograd/grad_mode.h"

namespace ember::train {

AtAverage::AtAverage(optim::Optimizer& optimizer, const std::function<void()>& moved)
    : optimizer_(optimizer), active_(optimizer.schedule_free() && optimizer.train_mode()) {
  if (!active_) return;
  optimizer_.eval();
  if (moved) moved();
}

AtAverage::~AtAverage() {
  if (active_) optimizer_.train();
}

int64_t recompute_batch_norm(nn::Module& model, data::Loader& loader, int64_t epoch, int64_t batches,
                             const RowPick& rows) {
  NoGradGuard no_grad;
  model.train();
  loader.start_epoch(epoch);
  data::Batch batch;
  int64_t done = 0;
  while (done < batches && loader.next(batch)) {
    const Tensor images = rows ? rows(batch.images) : batch.images;
    if (images.size(0) > 0) model(images);
    ++done;
  }
  return done;
}

bool is_schedule_free(const optim::OptimizerSpec& spec) {
  for (const optim::PartSpec& part : spec.parts())
    if (kernels::is_schedule_free(part.algorithm)) return true;
  return false;
}

void warn_schedule_free_with_lr_schedule(const TrainConfig& config) {
  if (config.lr_schedule == "none" && config.warmup_epochs == 0) return;
  for (const RunSpec& run : config.parsed.runs) {
    if (!is_schedule_free(run.parsed)) continue;
    std::fprintf(stderr,
                 "ember-train: warning: %s is Schedule-Free and needs no lr schedule (its warmup_steps key warms "
                 "up); --lr-schedule %s%s still applies to it\n",
                 run.base.c_str(), config.lr_schedule.c_str(), config.warmup_epochs > 0 ? " with --warmup-epochs" : "");
    return;
  }
}

}  // namespace ember::train
