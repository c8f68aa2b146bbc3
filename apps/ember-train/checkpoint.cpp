#include "apps/ember-train/checkpoint.h"

#include <filesystem>

#include <fmt/format.h>

#include "apps/ember-train/json_fields.h"
#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/printable.h"

namespace ember::train {

namespace {
// 2: the run state with named fields and the current run apart from the finished ones.
constexpr const char* kFormat = "ember-train-checkpoint-2";
const std::string kModel = "model.", kOptimizer = "optimizer.";
}  // namespace

void save_run_checkpoint(const std::string& path, const RunState& state, const nn::Module* model,
                         const optim::StateDict* optimizer_state) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  nn::SafetensorsMetadata meta{{"format", kFormat}, {"run_state", to_json(state).dump()}};
  if (model && optimizer_state) {
    for (auto& [name, t] : model->state_dict()) tensors.emplace_back(kModel + name, t);
    for (auto& [name, t] : optimizer_state->tensors) tensors.emplace_back(kOptimizer + name, t);
    meta["optimizer"] = optimizer_state->meta.dump();
  }
  nn::save_safetensors(path, tensors, meta);
}

bool LoadedCheckpoint::has_training_state() const { return contents.metadata.count("optimizer") != 0; }

std::string checkpoint_path(const std::string& out_dir) {
  return (std::filesystem::path(out_dir) / "checkpoint.safetensors").string();
}

namespace {

LoadedCheckpoint read_checkpoint(const std::string& path) {
  LoadedCheckpoint out;
  out.contents = nn::load_safetensors(path);
  const auto& meta = out.contents.metadata;
  auto format = meta.find("format");
  EMBER_CHECK(format != meta.end() && format->second == kFormat,
              "{} is not an ember-train checkpoint of this version (format {}, expected {})", printable(path),
              format == meta.end() ? "missing" : printable(format->second), kFormat);
  auto run = meta.find("run_state");
  EMBER_CHECK(run != meta.end(), "{}: checkpoint without run state", printable(path));
  nlohmann::json state;
  try {
    state = nlohmann::json::parse(run->second);
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("{}: the run state is not valid JSON: {}", printable(path), printable(e.what()));
  }
  try {
    out.state = run_state_from_json(state);
  } catch (const Error& e) {
    EMBER_FAIL("{}: run state: {}", printable(path), e.message());
  }
  const Progress& p = out.state.progress;
  const bool at_run_start = p.epoch == 0 && p.batch == 0 && out.state.current.history.empty();
  EMBER_CHECK(out.has_training_state() || at_run_start, "{}: the run state is inside a run but no model is saved",
              printable(path));
  EMBER_CHECK(!out.has_training_state() || p.run < static_cast<int>(out.state.config.parsed.runs.size()),
              "{}: a model is saved but every run has finished", printable(path));
  return out;
}

}  // namespace

LoadedCheckpoint load_run_checkpoint(const std::string& path) {
  try {
    return read_checkpoint(path);
  } catch (const Error& e) {  // one line whatever bytes the file holds (its names, a parser's "last read")
    EMBER_FAIL("{}", printable(e.message()));
  }
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
  const auto meta = contents.metadata.find("optimizer");
  EMBER_CHECK(meta != contents.metadata.end(), "checkpoint has no optimiser state");
  try {
    sd.meta = nlohmann::json::parse(meta->second);
    optimizer.load_state_dict(sd);
  } catch (const nlohmann::json::exception& e) {  // the optimiser reads its metadata with nlohmann
    EMBER_FAIL("checkpoint's optimiser state is malformed: {}", printable(e.what()));
  }
}

}  // namespace ember::train
