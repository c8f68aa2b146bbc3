#include "nn/summary.h"

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"

namespace ember::nn {

namespace {

// Records one row per module call; FLOPs of a call are added to every open ancestor call.
class SummaryObserver final : public ForwardObserver {
 public:
  SummaryObserver(const Module& model, int64_t batch_size) : batch_(batch_size) {
    for (const auto& [name, m] : model.named_modules()) names_.emplace(m, name);
  }

  void before(const Module& module, const Tensor&) override {
    SummaryRow row;
    auto it = names_.find(&module);
    row.name = it == names_.end() ? "?" : it->second;
    row.type = module.type_name();
    row.depth = static_cast<int>(open_.size());
    row.parameters = module.num_parameters();
    open_.push_back(rows_.size());
    rows_.push_back(row);
  }

  void after(const Module& module, const Tensor& input, const Tensor& output) override {
    const size_t index = open_.back();
    open_.pop_back();
    // Traced at batch 1: everything scales linearly with the batch.
    const int64_t flops = module.forward_flops(input.sizes(), output.sizes()) * batch_;
    rows_[index].flops += flops;
    for (size_t open : open_) rows_[open].flops += flops;
    Shape shape = output.sizes();
    if (!shape.empty()) shape[0] *= batch_;
    rows_[index].output = shape;
    if (!module.has_children()) activation_bytes_ += static_cast<int64_t>(output.nbytes()) * batch_;
  }

  std::vector<SummaryRow> rows_;
  int64_t activation_bytes_ = 0;

 private:
  int64_t batch_;
  std::unordered_map<const Module*, std::string> names_;
  std::vector<size_t> open_;
};

std::string human(double value, const char* unit) {
  const char* prefixes[] = {"", "K", "M", "G", "T"};
  int i = 0;
  while (value >= 1000.0 && i < 4) {
    value /= 1000.0;
    ++i;
  }
  return fmt::format("{:.2f} {}{}", value, prefixes[i], unit);
}

std::string human_bytes(int64_t bytes) {
  return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

}  // namespace

std::string with_thousands(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

ModelSummary summarize(Module& model, const Shape& input_shape, int64_t batch_size) {
  EMBER_CHECK(batch_size > 0, "summary: batch size must be positive, got {}", batch_size);
  const auto state = model.state_dict();
  Device device = Device::cpu();
  DType dtype = DType::Float32;
  for (const auto& [name, t] : state) {
    device = t.device();
    if (is_floating(t.dtype())) dtype = t.dtype();
  }
  ModelSummary summary;
  summary.batch_size = batch_size;
  summary.dtype = dtype;
  summary.input = input_shape;
  summary.input.insert(summary.input.begin(), batch_size);
  Shape traced = input_shape;
  traced.insert(traced.begin(), 1);

  SummaryObserver observer(model, batch_size);
  const bool was_training = model.is_training();
  model.eval();
  try {
    NoGradGuard no_grad;
    ForwardObserverScope scope(&observer);
    model(zeros(traced, TensorOptions(dtype).device(device)));
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);

  summary.rows = observer.rows_;
  summary.activation_bytes = observer.activation_bytes_;
  summary.flops = summary.rows.empty() ? 0 : summary.rows.front().flops;
  summary.total_parameters = model.num_parameters();
  summary.trainable_parameters = model.num_parameters(true);
  for (const auto& [name, t] : state) summary.parameter_bytes += static_cast<int64_t>(t.nbytes());
  return summary;
}

std::string format_summary(const ModelSummary& s) {
  size_t name_width = 20;
  for (const SummaryRow& r : s.rows) {
    const std::string label = r.name.empty() ? r.type : r.name + " (" + r.type + ")";
    name_width = std::max(name_width, label.size() + 2 * r.depth);
  }
  name_width += 2;
  const std::string header = fmt::format("{:<{}}{:<24}{:>14}{:>18}", "Layer (type)", name_width, "Output Shape",
                                         "Param #", "FLOPs");
  const std::string rule(header.size(), '=');
  std::string out = header + "\n" + rule + "\n";
  for (const SummaryRow& r : s.rows) {
    const std::string label =
        std::string(2 * r.depth, ' ') + (r.name.empty() ? r.type : r.name + " (" + r.type + ")");
    out += fmt::format("{:<{}}{:<24}{:>14}{:>18}\n", label, name_width, shape_str(r.output),
                       r.parameters > 0 ? with_thousands(r.parameters) : "--",
                       r.flops > 0 ? with_thousands(r.flops) : "--");
  }
  out += rule + "\n";
  out += fmt::format("input: {} ({})\n", shape_str(s.input), dtype_name(s.dtype));
  out += fmt::format("forward FLOPs at batch size {}: {} ({}; a multiply-add counts 2)\n", s.batch_size,
                     with_thousands(s.flops), human(static_cast<double>(s.flops), "FLOP"));
  out += fmt::format("activation memory at batch size {}: {} (outputs of every leaf layer call, {} bytes)\n", s.batch_size,
                     human_bytes(s.activation_bytes), with_thousands(s.activation_bytes));
  out += fmt::format("parameter and buffer memory: {} ({} bytes)\n", human_bytes(s.parameter_bytes),
                     with_thousands(s.parameter_bytes));
  out += fmt::format("total parameters: {}\n", s.total_parameters);
  out += fmt::format("trainable parameters: {}\n", s.trainable_parameters);
  return out;
}

}  // namespace ember::nn
