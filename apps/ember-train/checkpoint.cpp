#include "apps/ember-train/checkpoint.h"

#include <fmt/format.h>

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/printable.h"

namespace ember::train {

namespace {
constexpr const char* kFormat = "ember-train-checkpoint-1";
const std::string kModel = "model.", kOptimizer = "optimizer.";
}  // namespace

void save_run_checkpoint(const std::string& path, const RunState& state, const nn::Module* model,
                     const optim::Optimizer* optimizer) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  nn::SafetensorsMetadata meta{{"format", kFormat}, {"run_state", to_json(state).dump()}};
  if (model && optimizer) {
    for (auto& [name, t] : model->state_dict()) tensors.emplace_back(kModel + name, t);
    const optim::StateDict sd = optimizer->state_dict();
    for (auto& [name, t] : sd.tensors) tensors.emplace_back(kOptimizer + name, t);
    meta["optimizer"] = sd.meta.dump();
  }
  nn::save_safetensors(path, tensors, meta);
}

bool LoadedCheckpoint::has_training_state() const { return contents.metadata.count("optimizer") != 0; }

LoadedCheckpoint load_run_checkpoint(const std::string& path) {
  LoadedCheckpoint out;
  out.contents = nn::load_safetensors(path);
  const auto& meta = out.contents.metadata;
  auto format = meta.find("format");
  EMBER_CHECK(format != meta.end() && format->second == kFormat, "{} is not an ember-train checkpoint (format {})",
              printable(path), format == meta.end() ? "missing" : printable(format->second));
  auto run = meta.find("run_state");
  EMBER_CHECK(run != meta.end(), "{}: checkpoint without run state", printable(path));
  try {
    out.state = run_state_from_json(nlohmann::json::parse(run->second));
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("{}: the run state is not valid JSON: {}", printable(path), printable(e.what()));
  }
  return out;
}

void restore_training_state(const nn::SafetensorsContents& contents, nn::Module& model, optim::Optimizer& optimizer) {
  NoGradGuard no_grad;
  for (auto& [name, t] : model.state_dict()) {
    const Tensor* saved = contents.find(kModel + name);
    EMBER_CHECK(saved != nullptr, "checkpoint has no {}{}", kModel, name);
    EMBER_CHECK(saved->sizes() == t.sizes() && saved->dtype() == t.dtype(),
                "checkpoint's {}{} is {} {}, the model's is {} {}", kModel, name, dtype_name(saved->dtype()),
                shape_str(saved->sizes()), dtype_name(t.dtype()), shape_str(t.sizes()));
    t.copy_(*saved);  // same TensorImpl as the model's: copy in place
  }
  optim::StateDict sd;
  for (auto& [name, t] : contents.tensors)
    if (name.rfind(kOptimizer, 0) == 0) sd.tensors[name.substr(kOptimizer.size())] = t;
  try {
    sd.meta = nlohmann::json::parse(contents.metadata.at("optimizer"));
  } catch (const std::exception& e) {
    EMBER_FAIL("checkpoint's optimiser metadata is missing or malformed: {}", printable(e.what()));
  }
  optimizer.load_state_dict(sd);
}

}  // namespace ember::train
