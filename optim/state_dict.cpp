// Optimizer::state_dict and load_state_dict: the checkpoint of an optimiser, and its careful
// load (everything is checked before anything changes).
#include <fmt/ranges.h>

#include <functional>
#include <set>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "core/printable.h"
#include "optim/optimizer.h"
#include "optim/optimizer_part.h"

namespace ember::optim {

namespace {

constexpr const char* kStateDictFormat = "ember.optim.v2";
constexpr int kScalars = kernels::kMaxOptimScalars;

Tensor host_copy(const Tensor& t) { return t.device().is_cpu() ? t.clone() : t.to(Device::cpu()); }

std::string tensor_key(const FlatEntry& e, const char* state) { return e.name + "." + state; }

// A part's algorithm as a state dict names it: "adam", or "adam8bit" for 8-bit state (whose
// tensors differ: a checkpoint of one never loads into the other).
std::string part_algorithm(const detail::Part& part) {
  return std::string(algorithm_name(part.algorithm())) + (part.spec().state8bit ? "8bit" : "");
}

// The algorithms of a state dict's parts, "a+b".
std::string stored_algorithms(const nlohmann::json& parts) {
  std::vector<std::string> names;
  for (const nlohmann::json& p : parts) names.push_back(p.value("algorithm", "?"));
  return fmt::format("{}", fmt::join(names, "+"));
}

// One part's hyperparameters, group scalars and slots as load_state_dict will commit them.
struct PendingPart {
  std::vector<Hyperparameters> groups;
  std::vector<kernels::OptimScalars> scalars;
  unsigned slots = 0;
};

using Parts = std::vector<std::unique_ptr<detail::Part>>;

// The stored parameters must be the trainable ones here (name, group, shape, part), in any order.
void check_parameters(const nlohmann::json& parameters, const Parts& parts) {
  std::map<std::string, std::pair<const FlatEntry*, int>> trainable;
  for (size_t p = 0; p < parts.size(); ++p)
    for (const FlatEntry* e : parts[p]->entries()) trainable[e->name] = {e, static_cast<int>(p)};
  EMBER_CHECK(parameters.size() == trainable.size(), "optimizer state: {} trainable parameters, this model has {}",
              parameters.size(), trainable.size());
  for (const nlohmann::json& p : parameters) {
    const std::string pname = p.at("name").get<std::string>();
    auto it = trainable.find(pname);
    EMBER_CHECK(it != trainable.end(), "optimizer state: parameter '{}' is not a trainable parameter here",
              printable(pname));
    const FlatEntry& e = *it->second.first;
    const Shape shape = p.at("shape").get<Shape>();
    const int group = p.at("group").get<int>(), part = p.at("part").get<int>();
    EMBER_CHECK(shape == e.param.sizes() && group == e.group && part == it->second.second,
                "optimizer state: parameter '{}' has shape {} in group {}, part {}; here {} in group {}, part {}",
                printable(pname), shape_str(shape), group, part, shape_str(e.param.sizes()), e.group,
                it->second.second);
  }
}

// The slot of state `name` in `part` (throws for a state the part does not have).
int slot_of(const detail::Part& part, const std::string& name) {
  for (int k = 0; k < kernels::kMaxOptimStates; ++k) {
    const char* s = part.state_name(k);
    if (s != nullptr && name == s) return k;
  }
  EMBER_FAIL("optimizer state: {} has no state '{}'", part.spec().name, name);
}

// One part: its groups, scalars and states from `stored`, every tensor checked (and noted in
// `used`); nothing is changed.
PendingPart check_part(const detail::Part& part, const nlohmann::json& stored, const StateDict& sd,
                       std::set<std::string>& used) {
  PendingPart next;
  const nlohmann::json &groups = stored.at("groups"), &scalars = stored.at("scalars");
  EMBER_CHECK(groups.size() == part.groups.size() && scalars.size() == groups.size(),
              "optimizer state: {} parameter groups, here {}", groups.size(), part.groups.size());
  for (size_t g = 0; g < part.groups.size(); ++g) {
    next.groups.push_back(hyperparameters_from_json(part.spec().name, part.groups[g], groups[g]));
    const std::vector<double> v = scalars[g].get<std::vector<double>>();
    EMBER_CHECK(v.size() == size_t(kScalars), "optimizer state: group scalars of {} values", v.size());
    kernels::OptimScalars s;
    for (int k = 0; k < kScalars; ++k) s.v[k] = v[k];
    next.scalars.push_back(s);
  }
  for (const nlohmann::json& n : stored.at("states")) next.slots |= 1u << slot_of(part, n.get<std::string>());
  EMBER_CHECK((part.slots_needed(next.groups) & ~next.slots) == 0,
              "optimizer state: the stored hyperparameters of {} need state that is not stored", part.spec().name);
  for (int k = 0; k < kernels::kMaxOptimStates; ++k) {
    if (!((next.slots >> k) & 1u)) continue;
    for (size_t i = 0; i < part.entries().size(); ++i) {
      const std::optional<detail::StateView> v = part.view(k, i);
      if (!v) continue;
      const std::string key = tensor_key(*part.entries()[i], part.state_name(k));
      auto it = sd.tensors.find(key);
      EMBER_CHECK(it != sd.tensors.end(), "optimizer state: tensor '{}' is missing", key);
      const Tensor& t = it->second;
      EMBER_CHECK(t.defined() && t.sizes() == v->shape && t.dtype() == DType::Float32,
                  "optimizer state: tensor '{}' is {} {}, expected float32 {}", key,
                  t.defined() ? dtype_name(t.dtype()) : "undefined", t.defined() ? shape_str(t.sizes()) : "",
                  shape_str(v->shape));
      used.insert(key);
    }
  }
  for (size_t i = 0; i < part.entries().size(); ++i)
    for (const detail::Part::NamedState& s : part.extra_states(i)) {
      const std::string key = tensor_key(*part.entries()[i], s.name.c_str());
      auto it = sd.tensors.find(key);
      EMBER_CHECK(it != sd.tensors.end(), "optimizer state: tensor '{}' is missing", key);
      const Tensor& t = it->second;
      EMBER_CHECK(t.defined() && t.sizes() == s.view.sizes() && t.dtype() == s.view.dtype(),
                  "optimizer state: tensor '{}' is {} {}, expected {} {}", key,
                  t.defined() ? dtype_name(t.dtype()) : "undefined", t.defined() ? shape_str(t.sizes()) : "",
                  dtype_name(s.view.dtype()), shape_str(s.view.sizes()));
      used.insert(key);
    }
  return next;
}

// Schedule-Free at x: y of every parameter of its parts ("<name>.y", float32, the parameter's
// shape) is there (noted in `used`).
void check_saved_y(const Parts& parts, const StateDict& sd, std::set<std::string>& used) {
  for (const auto& part : parts) {
    if (!kernels::is_schedule_free(part->algorithm())) continue;
    for (const FlatEntry* e : part->entries()) {
      const std::string key = tensor_key(*e, "y");
      auto it = sd.tensors.find(key);
      EMBER_CHECK(it != sd.tensors.end(), "optimizer state: tensor '{}' is missing (saved at x, y is needed)", key);
      const Tensor& t = it->second;
      EMBER_CHECK(t.defined() && t.sizes() == e->param.sizes() && t.dtype() == DType::Float32,
                  "optimizer state: tensor '{}' is not float32 {}", key, shape_str(e->param.sizes()));
      used.insert(key);
    }
  }
}

}  // namespace

// What load_state_dict will commit once every check has passed.
struct Optimizer::PendingLoad {
  int64_t step = 0;
  bool train_mode = true;
  bool saved_y = false;  // Schedule-Free at x: "<name>.y" of its parameters
  std::vector<PendingPart> parts;
};

StateDict Optimizer::state_dict() const {
  EMBER_CHECK(!sharded(), "optimizer: the state of a sharded optimizer is spread over the ranks; gather it first "
                          "(Zero1Step::state_dict)");
  return collect_state_dict([this](int p, int k) -> const Tensor& { return parts_[p]->state(k); });
}

StateDict Optimizer::state_dict_from(const std::vector<Tensor>& full_states) const {
  EMBER_CHECK(num_parts() == 1 && parts_[0]->algorithm() != Algorithm::Adafactor &&
                  parts_[0]->algorithm() != Algorithm::Muon && !parts_[0]->spec().state8bit,
              "optimizer: state_dict_from needs a one-part element-wise optimizer, not {}", name());
  const std::vector<std::string> names = state_names();
  EMBER_CHECK(full_states.size() == names.size(), "optimizer: {} state buffers for {} states", full_states.size(),
              names.size());
  for (const Tensor& t : full_states)
    EMBER_CHECK(t.defined() && t.numel() == params_.padded_numel(),
                "optimizer: a state buffer of {} elements, expected {}", t.defined() ? t.numel() : 0,
                params_.padded_numel());
  std::vector<int> index(kernels::kMaxOptimStates, -1);  // slot -> position in full_states
  for (int k = 0, n = 0; k < kernels::kMaxOptimStates; ++k)
    if ((parts_[0]->slots() >> k) & 1u) index[k] = n++;
  return collect_state_dict([&](int, int k) -> const Tensor& { return full_states[index[k]]; });
}

StateDict Optimizer::collect_state_dict(const std::function<const Tensor&(int part, int slot)>& buffer) const {
  NoGradGuard no_grad;
  StateDict sd;
  nlohmann::json parts = nlohmann::json::array(), parameters = nlohmann::json::array();
  for (int p = 0; p < num_parts(); ++p) {
    const detail::Part& part = *parts_[p];
    nlohmann::json groups = nlohmann::json::array(), scalars = nlohmann::json::array();
    for (const Hyperparameters& h : part.groups) groups.push_back(hyperparameters_to_json(part.spec().name, h));
    for (const kernels::OptimScalars& s : group_scalars(p)) scalars.push_back(std::vector<double>(s.v, s.v + kScalars));
    parts.push_back({{"name", part.spec().name},
                     {"algorithm", part_algorithm(part)},
                     {"states", state_names(p)},
                     {"groups", groups},
                     {"scalars", scalars}});
    for (size_t i = 0; i < part.entries().size(); ++i) {
      const FlatEntry& e = *part.entries()[i];
      parameters.push_back({{"name", e.name}, {"group", e.group}, {"shape", e.param.sizes()}, {"part", p}});
      for (int k = 0; k < kernels::kMaxOptimStates; ++k) {
        const std::optional<detail::StateView> v = part.view(k, i);
        if (((part.slots() >> k) & 1u) && v)
          sd.tensors[tensor_key(e, part.state_name(k))] = host_copy(flat_view(buffer(p, k), v->offset, v->shape));
      }
      for (const detail::Part::NamedState& s : part.extra_states(i))
        sd.tensors[tensor_key(e, s.name.c_str())] = host_copy(s.view);
      if (saved_y_.defined() && kernels::is_schedule_free(part.algorithm()))
        sd.tensors[tensor_key(e, "y")] = host_copy(flat_view(saved_y_, e.offset, e.param.sizes()));
    }
  }
  sd.meta = {{"format", kStateDictFormat}, {"optimizer", name()}, {"step", step_count()},
             {"capturable", capturable()},   {"parts", parts},     {"parameters", parameters},
             {"train_mode", train_mode_}};
  return sd;
}

void Optimizer::check_state_dict(const StateDict& sd, PendingLoad& pending) const {
  const nlohmann::json& m = sd.meta;
  EMBER_CHECK(m.is_object() && m.value("format", "") == kStateDictFormat,
              "optimizer state: not an ember optimizer state (format '{}', expected '{}')",
              printable(m.is_object() ? m.value("format", "") : ""), kStateDictFormat);
  const nlohmann::json& parts = m.at("parts");
  std::vector<std::string> mine;
  for (const auto& part : parts_) mine.push_back(part_algorithm(*part));
  const std::string here = fmt::format("{}", fmt::join(mine, "+"));
  EMBER_CHECK(parts.is_array() && stored_algorithms(parts) == here,
              "optimizer state of {} ({}) cannot be loaded into {} ({}): the optimisers differ",
              m.value("optimizer", "?"), stored_algorithms(parts), name(), here);
  pending.step = m.at("step").get<int64_t>();
  EMBER_CHECK(pending.step >= 0, "optimizer state: step count {}", pending.step);
  pending.train_mode = m.value("train_mode", true);  // Schedule-Free's mode; older states were all at y
  check_parameters(m.at("parameters"), parts_);
  std::set<std::string> used;
  for (int p = 0; p < num_parts(); ++p) pending.parts.push_back(check_part(*parts_[p], parts[p], sd, used));
  pending.saved_y = !pending.train_mode && pending.step > 0 && schedule_free();
  if (pending.saved_y) check_saved_y(parts_, sd, used);
  for (const auto& [key, tensor] : sd.tensors)
    EMBER_CHECK(used.count(key) != 0, "optimizer state: unexpected tensor '{}' (not a state of {})", printable(key),
                name());
}

// Slot k of `part` from the checked state dict. Sharded: into a full-length buffer first,
// then the shard's elements of it (Note [flat buffer shards]).
void Optimizer::load_state(detail::Part& part, int slot, const StateDict& sd) {
  const Tensor target = sharded() ? zeros({params_.padded_numel()}, TensorOptions().device(params_.device()))
                                  : part.state(slot);
  for (size_t i = 0; i < part.entries().size(); ++i) {
    const std::optional<detail::StateView> v = part.view(slot, i);
    if (!v || shape_numel(v->shape) == 0) continue;
    const std::string key = tensor_key(*part.entries()[i], part.state_name(slot));
    flat_view(target, v->offset, v->shape).copy_(sd.tensors.at(key));
  }
  if (!sharded()) return;
  Tensor state = part.state(slot);
  state.copy_(target.slice(0, shard_.begin, shard_.end));
}

void Optimizer::load_state_dict(const StateDict& sd) {
  NoGradGuard no_grad;
  PendingLoad pending;
  try {
    check_state_dict(sd, pending);
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("optimizer state: malformed metadata ({})", e.what());
  }
  // Every check passed: commit.
  for (int p = 0; p < num_parts(); ++p) {
    detail::Part& part = *parts_[p];
    PendingPart& next = pending.parts[p];
    part.groups = std::move(next.groups);
    part.scalars = std::move(next.scalars);
    part.allocate(next.slots | part.slots_needed(part.groups));
    for (int k = 0; k < kernels::kMaxOptimStates; ++k)
      if ((next.slots >> k) & 1u) load_state(part, k, sd);
    for (size_t i = 0; i < part.entries().size(); ++i)
      for (const detail::Part::NamedState& s : part.extra_states(i))
        if (s.view.numel() > 0) s.view.copy_(sd.tensors.at(tensor_key(*part.entries()[i], s.name.c_str())));
  }
  steps_ = pending.step;
  train_mode_ = pending.train_mode;
  saved_y_ = Tensor();
  if (pending.saved_y) {
    saved_y_ = params_.values().clone();  // parameters of other parts: unchanged at x
    for (const auto& part : parts_) {
      if (!kernels::is_schedule_free(part->algorithm())) continue;
      for (const FlatEntry* e : part->entries())
        if (e->numel > 0) flat_view(saved_y_, e->offset, e->param.sizes()).copy_(sd.tensors.at(tensor_key(*e, "y")));
    }
  }
  update_lr_ratios();
  upload_lrs();
  upload_step();
  upload_scalars();
}

}  // namespace ember::optim
