#include "apps/ember-train/run_model.h"

#include <cmath>
#include <filesystem>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/generator.h"
#include "nn/safetensors.h"

namespace ember::train {

std::unique_ptr<nn::ResNet18> build_model(const TrainConfig& c, uint64_t seed, Device device) {
  Generator generator(seed);
  auto model = std::make_unique<nn::ResNet18>(10, c.parsed.stem, &generator);
  if (!c.weights.empty()) load_initial_weights(*model, c.weights, c.reset_fc);
  if (c.parsed.compute_dtype == DType::BFloat16) model->set_compute_dtype(DType::BFloat16);
  model->set_channels_last(c.channels_last);
  if (c.freeze_backbone)
    for (auto& [name, p] : model->named_parameters())
      if (name.rfind("fc.", 0) != 0) p.set_requires_grad(false);
  model->to(device);
  return model;
}

optim::NamedParameters trainable(const nn::Module& model) {
  optim::NamedParameters out;
  for (auto& [name, p] : model.named_parameters())
    if (p.requires_grad()) out.emplace_back(name, p);
  return out;
}

std::unique_ptr<optim::LrSchedule> make_schedule(const TrainConfig& c, int64_t steps_per_epoch) {
  const int64_t warmup = static_cast<int64_t>(std::llround(c.warmup_epochs * static_cast<double>(steps_per_epoch)));
  auto s = std::make_unique<optim::LrSchedule>();
  s->kind = c.parsed.lr_schedule;
  switch (c.parsed.lr_schedule) {
    case optim::ScheduleKind::OneCycle:  // warm-up is the rising phase
      if (c.warmup_epochs > 0) s->pct_start = c.warmup_epochs / c.epochs;
      return s;
    case optim::ScheduleKind::Constant:
      if (warmup == 0) return nullptr;
      s->warmup = warmup;
      return s;
    default:
      s->warmup = warmup;
      return s;
  }
}

void load_initial_weights(nn::Module& model, const std::string& path, bool reset_fc) {
  EMBER_CHECK(std::filesystem::exists(path), "--weights {}: no such file", path);
  const nn::SafetensorsContents file = nn::load_safetensors(path);
  NoGradGuard no_grad;
  for (auto& [name, t] : model.state_dict()) {
    if (reset_fc && name.rfind("fc.", 0) == 0) continue;  // the head keeps its fresh init
    const Tensor* saved = file.find(name);
    EMBER_CHECK(saved != nullptr, "--weights {}: no tensor named {}{}", path, name,
                name.rfind("fc.", 0) == 0 ? " (use --reset-fc to start the head afresh)" : "");
    EMBER_CHECK(saved->sizes() == t.sizes(), "--weights {}: {} has shape {}, the model's is {}{}", path, name,
                shape_str(saved->sizes()), shape_str(t.sizes()),
                name.rfind("fc.", 0) == 0 ? " (use --reset-fc for a head of another size)" : "");
    t.copy_(*saved);  // the model's own tensor: written in place
  }
}

}  // namespace ember::train
