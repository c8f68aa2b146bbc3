#include "nn/module.h"

#include <unordered_map>
#include <unordered_set>

#include "core/autograd/grad_mode.h"
#include "core/printable.h"

namespace ember::nn {

namespace {

thread_local ForwardObserver* current_observer = nullptr;

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Moves `t` to `device` and `dtype` keeping its TensorImpl (Note
// [stable parameter tensors]); an existing gradient moves along.
void rehome(const Tensor& t, Device device, DType dtype) {
  if (t.device() == device && t.dtype() == dtype) return;
  NoGradGuard no_grad;
  auto convert = [&](const Tensor& x) { return x.detach().to(dtype).to(device).contiguous(); };
  const Tensor grad = t.grad().defined() ? convert(t.grad()) : Tensor();
  t.set_grad(Tensor());
  t.set_data(convert(t));
  t.set_grad(grad);
}

}  // namespace

ForwardObserverScope::ForwardObserverScope(ForwardObserver* observer) : previous_(current_observer) {
  current_observer = observer;
}
ForwardObserverScope::~ForwardObserverScope() { current_observer = previous_; }

Tensor Module::operator()(const Tensor& input) {
  ForwardObserver* observer = current_observer;
  if (observer == nullptr) return forward(input);
  observer->before(*this, input);
  Tensor output = forward(input);
  observer->after(*this, input, output);
  return output;
}

void Module::check_new_name(const std::string& name) const {
  EMBER_CHECK(!name.empty() && name.find('.') == std::string::npos, "{}: invalid member name '{}'", type_name_, name);
  auto taken = [&](const auto& list) {
    for (const auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  EMBER_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), "{}: the name '{}' is already taken",
              type_name_, name);
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name(name);
  EMBER_CHECK(value.defined() && is_floating(value.dtype()) && value.is_leaf(),
              "{}: parameter '{}' must be a defined floating-point leaf tensor", type_name_, name);
  value.set_requires_grad(true);
  parameters_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_new_name(name);
  EMBER_CHECK(value.defined(), "{}: buffer '{}' is undefined", type_name_, name);
  buffers_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  EMBER_CHECK(module != nullptr, "{}: child module '{}' is null", type_name_, name);
  children_.emplace_back(name, std::move(module));
}

template <class F>
void Module::visit(const std::string& prefix, F&& f) const {
  f(prefix, *this);
  for (const auto& [name, child] : children_) child->visit(join(prefix, name), f);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  visit("", [&](const std::string& prefix, const Module& m) {
    for (const auto& [name, t] : m.parameters_) out.emplace_back(join(prefix, name), t);
  });
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  visit("", [&](const std::string& prefix, const Module& m) {
    for (const auto& [name, t] : m.buffers_) out.emplace_back(join(prefix, name), t);
  });
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  visit("", [&](const std::string& prefix, const Module& m) {
    for (const auto& [name, t] : m.parameters_) out.emplace_back(join(prefix, name), t);
    for (const auto& [name, t] : m.buffers_) out.emplace_back(join(prefix, name), t);
  });
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, const Module*>> out;
  visit("", [&](const std::string& prefix, const Module& m) { out.emplace_back(prefix, &m); });
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  // The const traversal, on a module that is not const: casting the constness back is safe.
  for (const auto& [name, m] : static_cast<const Module*>(this)->named_modules())
    out.emplace_back(name, const_cast<Module*>(m));
  return out;
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t total = 0;
  for (const auto& [name, t] : named_parameters())
    if (!trainable_only || t.requires_grad()) total += t.numel();
  return total;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::convert(Device device, DType dtype, bool change_dtype) {
  check_device_usable(device);
  for (auto* list : {&parameters_, &buffers_})
    for (auto& [name, t] : *list)
      rehome(t, device, change_dtype && is_floating(t.dtype()) ? dtype : t.dtype());
  for (auto& [name, child] : children_) child->convert(device, dtype, change_dtype);
}

void Module::to(Device device) { convert(device, DType::Float32, false); }

void Module::to(DType dtype) {
  EMBER_CHECK(is_floating(dtype), "Module::to: {} is not a floating-point dtype", dtype_name(dtype));
  const Device device = parameters_.empty() ? (buffers_.empty() ? Device::cpu() : buffers_[0].second.device())
                                            : parameters_[0].second.device();
  convert(device, dtype, true);
}

void Module::zero_grad() {
  for (auto& [name, t] : named_parameters()) t.set_grad(Tensor());
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& [name, child] : named_children()) x = (*child)(x);
  return x;
}

void load_state_dict(Module& module, const NamedTensors& state, const std::string& source) {
  std::unordered_map<std::string, const Tensor*> given;
  for (const auto& [name, t] : state) given.emplace(name, &t);
  NoGradGuard no_grad;
  std::unordered_set<std::string> expected;
  for (auto& [name, target] : module.state_dict()) {
    expected.insert(name);
    auto it = given.find(name);
    EMBER_CHECK(it != given.end(), "{}: missing '{}' ({} {}), needed by the model", source, name,
                dtype_name(target.dtype()), shape_str(target.sizes()));
    const Tensor& value = *it->second;
    EMBER_CHECK(value.dtype() == target.dtype(), "{}: '{}' has dtype {}, the model needs {}", source, name,
                dtype_name(value.dtype()), dtype_name(target.dtype()));
    EMBER_CHECK(value.sizes() == target.sizes(), "{}: '{}' has shape {}, the model needs {}", source, name,
                shape_str(value.sizes()), shape_str(target.sizes()));
  }
  for (const auto& [name, t] : state)
    EMBER_CHECK(expected.count(name) != 0, "{}: unexpected '{}' ({} {}), the model has no such parameter or buffer",
                source, printable(name), dtype_name(t.dtype()), shape_str(t.sizes()));
  // Only after every check: a failed load leaves the model untouched.
  for (auto& [name, target] : module.state_dict()) target.copy_(*given.at(name));
}

}  // namespace ember::nn
