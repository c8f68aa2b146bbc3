#include "optim/optimizer.h"

#include <fmt/ranges.h>

#include <cmath>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "optim/executor.h"

namespace ember::optim {

namespace {

constexpr const char* kStateDictFormat = "ember.optim.v1";

Tensor flat_view(const Tensor& flat, int64_t offset, const Shape& shape) {
  return make_view(flat.storage(), flat.dtype(), shape, contiguous_strides(shape), offset);
}

// An independent host copy (never a view that the next step would change).
Tensor host_copy(const Tensor& t) { return t.device().is_cpu() ? t.clone() : t.to(Device::cpu()); }

const char* state_name(Algorithm algorithm, int slot) {
  return kernels::visit_optim_rule(algorithm, [&](auto rule) { return decltype(rule)::kStateNames[slot]; });
}

unsigned slots_needed_by(Algorithm algorithm, const std::vector<Hyperparameters>& groups) {
  return kernels::visit_optim_rule(algorithm, [&](auto rule) {
    unsigned slots = 0;
    for (const Hyperparameters& h : groups) slots |= decltype(rule)::slots_needed(h);
    return slots;
  });
}

}  // namespace

Optimizer::Optimizer(const OptimizerSpec& spec, FlatParameters& params, FlatShard shard)
    : spec_(spec), params_(params), shard_(shard) {
  validate_hyperparameters(spec_.name, spec_.hyper);
  if (shard_.end < 0) shard_ = {0, params_.padded_numel()};
  EMBER_CHECK(shard_.begin >= 0 && shard_.begin <= shard_.end && shard_.end <= params_.padded_numel(),
              "optimizer: shard [{}, {}) of {} flat elements", shard_.begin, shard_.end, params_.padded_numel());
  if (sharded()) {
    shard_segments_ = segments_within(params_.segments(), shard_.begin, shard_.end);
    shard_table_ = segment_table_on(shard_segments_, params_.device());
    for (const kernels::OptimSegment& s : shard_segments_) shard_granules_ += kernels::segment_granules(s);
  }
  groups_.assign(static_cast<size_t>(params_.num_groups()), spec_.hyper);
  allocate_states(slots_needed());
  if (spec_.capturable) {
    device_lr_ = zeros({num_groups()}, TensorOptions(DType::Float64).device(params_.device()));
    device_step_ = zeros({2}, TensorOptions(DType::Int64).device(params_.device()));
    upload_lrs();
    upload_step();
  }
}

unsigned Optimizer::slots_needed() const { return slots_needed_by(spec_.algorithm, groups_); }

void Optimizer::allocate_states(unsigned slots) {
  NoGradGuard no_grad;
  for (int k = 0; k < kernels::kMaxOptimStates; ++k) {
    if (!((slots >> k) & 1u) || ((slots_ >> k) & 1u)) continue;
    states_[k] = zeros({shard_.end - shard_.begin}, TensorOptions().device(params_.device()));
    slots_ |= 1u << k;
  }
  // Adagrad's sum starts at initial_accumulator_value inside the segments (padding stays 0).
  if (spec_.algorithm == Algorithm::Adagrad && steps_ == 0) {
    for (const kernels::OptimSegment& s : sharded() ? shard_segments_ : params_.segments())
      states_[0].slice(0, s.begin, s.end).fill_(groups_[s.group].initial_accumulator_value);
  }
}

// One fill kernel per group: the value travels as a kernel argument, so setting the lr each
// step (a schedule) never waits for the device, as a copy from the host would.
void Optimizer::upload_lr(int group) {
  if (spec_.capturable) device_lr_.slice(0, group, group + 1).fill_(groups_[group].lr);
}

void Optimizer::upload_lrs() {
  for (int g = 0; g < num_groups(); ++g) upload_lr(g);
}

// Only where the host count is the truth (construction, load_state_dict): a replayed CUDA
// graph advances the device counter without the host's steps_ knowing.
void Optimizer::upload_step() {
  if (!spec_.capturable) return;
  const int64_t step[2] = {steps_, 0};
  copy_from_host(device_step_, step, sizeof(step));
}

std::string Optimizer::spec() const { return format_optimizer_spec(spec_.name, groups_.at(0), spec_.capturable); }

const Hyperparameters& Optimizer::hyperparameters(int group) const {
  EMBER_CHECK(group >= 0 && group < num_groups(), "optimizer: group {} of {}", group, num_groups());
  return groups_[group];
}

void Optimizer::set_hyperparameters(int group, const Hyperparameters& hyper) {
  hyperparameters(group);  // range check
  validate_hyperparameters(spec_.name, hyper);
  std::vector<Hyperparameters> next = groups_;
  next[group] = hyper;
  const unsigned needed = slots_needed_by(spec_.algorithm, next);
  EMBER_USAGE_CHECK((needed & ~slots_) == 0 || step_count() == 0,
                    "{}: these hyperparameters need state (e.g. momentum, amsgrad, centered) that the optimizer did "
                    "not keep; set them before the first step",
                    spec_.name);
  groups_ = std::move(next);
  allocate_states(needed);
  upload_lrs();
}

void Optimizer::configure_group(int group, const std::string& options) {
  set_hyperparameters(group, parse_group_options(spec_.name, hyperparameters(group), options));
}

void Optimizer::set_lr(int group, double lr) {
  Hyperparameters h = hyperparameters(group);
  h.lr = lr;
  validate_hyperparameters(spec_.name, h);
  groups_[group] = h;
  upload_lr(group);
}

void Optimizer::set_lr(double lr) {
  for (int g = 0; g < num_groups(); ++g) {
    Hyperparameters h = groups_[g];
    h.lr = lr;
    validate_hyperparameters(spec_.name, h);
    groups_[g] = h;
  }
  upload_lrs();
}

int64_t Optimizer::step_count() const {
  if (spec_.capturable) return device_step_.to_vector<int64_t>()[0];
  return steps_;
}

int64_t Optimizer::state_bytes() const {
  int64_t bytes = 0;
  for (const Tensor& s : states_)
    if (s.defined()) bytes += static_cast<int64_t>(s.nbytes());
  if (device_lr_.defined()) bytes += static_cast<int64_t>(device_lr_.nbytes() + device_step_.nbytes());
  return bytes;
}

std::vector<std::string> Optimizer::state_names() const {
  std::vector<std::string> names;
  for (int k = 0; k < kernels::kMaxOptimStates; ++k)
    if ((slots_ >> k) & 1u) names.emplace_back(state_name(spec_.algorithm, k));
  return names;
}

const Tensor& Optimizer::state(const std::string& name) const {
  for (int k = 0; k < kernels::kMaxOptimStates; ++k)
    if (((slots_ >> k) & 1u) && name == state_name(spec_.algorithm, k)) return states_[k];
  EMBER_FAIL("{} has no state '{}' (it keeps: {})", spec_.name, name, fmt::join(state_names(), ", "));
}

kernels::FusedStepArgs Optimizer::step_args() const {
  kernels::FusedStepArgs a;
  a.algorithm = spec_.algorithm;
  a.state_slots = slots_;
  a.param = params_.values().data<float>() + shard_.begin;
  a.grad = params_.grads().data<float>() + shard_.begin;
  for (int k = 0; k < kernels::kMaxOptimStates; ++k)
    a.state[k] = ((slots_ >> k) & 1u) ? states_[k].data<float>() : nullptr;
  const std::vector<kernels::OptimSegment>& segments = sharded() ? shard_segments_ : params_.segments();
  const Tensor& table = sharded() ? shard_table_ : params_.segment_table();
  a.segments = params_.device().is_cpu() ? segments.data()
                                         : static_cast<const kernels::OptimSegment*>(table.raw_data());
  a.num_segments = static_cast<int>(segments.size());
  a.num_granules = sharded() ? shard_granules_ : params_.num_granules();
  a.num_groups = num_groups();
  for (int g = 0; g < num_groups(); ++g) a.hyper[g] = groups_[g];
  a.step = steps_ + 1;
  if (spec_.capturable) {
    a.device_lr = device_lr_.data<double>();
    a.device_step = reinterpret_cast<unsigned long long*>(device_step_.data<int64_t>());
  }
  return a;
}

void Optimizer::step() {
  const kernels::FusedStepArgs args = step_args();
  if (params_.device().is_cpu())
    detail::cpu_fused_step(args);
  else
    detail::cuda_fused_step(args);
  ++steps_;
}

StateDict Optimizer::state_dict() const {
  EMBER_CHECK(!sharded(), "optimizer: the state of a sharded optimizer is spread over the ranks; gather it first");
  std::vector<Tensor> full;
  for (int k = 0; k < kernels::kMaxOptimStates; ++k)
    if ((slots_ >> k) & 1u) full.push_back(states_[k]);
  return state_dict_from(full);
}

StateDict Optimizer::state_dict_from(const std::vector<Tensor>& full_states) const {
  NoGradGuard no_grad;
  StateDict sd;
  const std::vector<std::string> names = state_names();
  nlohmann::json groups = nlohmann::json::array(), parameters = nlohmann::json::array();
  for (const Hyperparameters& h : groups_) groups.push_back(hyperparameters_to_json(spec_.name, h));
  EMBER_CHECK(full_states.size() == names.size(), "optimizer: {} state buffers for {} states", full_states.size(),
              names.size());
  for (const Tensor& t : full_states)
    EMBER_CHECK(t.numel() == params_.padded_numel(), "optimizer: a state buffer of {} elements, expected {}",
                t.numel(), params_.padded_numel());
  for (const FlatEntry& e : params_.entries()) {
    if (!e.trainable) continue;
    parameters.push_back({{"name", e.name}, {"group", e.group}, {"shape", e.param.sizes()}});
    for (size_t i = 0; i < names.size(); ++i)
      sd.tensors[e.name + "." + names[i]] = host_copy(flat_view(full_states[i], e.offset, e.param.sizes()));
  }
  sd.meta = {
      {"format", kStateDictFormat}, {"optimizer", spec_.name},        {"algorithm", algorithm_name(spec_.algorithm)},
      {"step", step_count()},       {"capturable", spec_.capturable}, {"states", names},
      {"groups", groups},           {"parameters", parameters}};
  return sd;
}

void Optimizer::load_state_dict(const StateDict& sd) {
  NoGradGuard no_grad;
  const nlohmann::json& m = sd.meta;
  EMBER_CHECK(m.is_object() && m.value("format", "") == kStateDictFormat,
              "optimizer state: not an ember optimizer state (format '{}', expected '{}')",
              m.is_object() ? m.value("format", "") : "", kStateDictFormat);
  const std::string algorithm = m.value("algorithm", "");
  EMBER_CHECK(algorithm == algorithm_name(spec_.algorithm), "optimizer state of {} cannot be loaded into {}", algorithm,
              algorithm_name(spec_.algorithm));

  // The parameters must be the same (name, group, shape), in any order.
  std::map<std::string, const FlatEntry*> trainable;
  for (const FlatEntry& e : params_.entries())
    if (e.trainable) trainable[e.name] = &e;
  const nlohmann::json& parameters = m.at("parameters");
  EMBER_CHECK(parameters.size() == trainable.size(), "optimizer state: {} trainable parameters, this model has {}",
              parameters.size(), trainable.size());
  for (const nlohmann::json& p : parameters) {
    const std::string name = p.at("name").get<std::string>();
    auto it = trainable.find(name);
    EMBER_CHECK(it != trainable.end(), "optimizer state: parameter '{}' is not a trainable parameter here", name);
    EMBER_CHECK(
        p.at("shape").get<Shape>() == it->second->param.sizes() && p.at("group").get<int>() == it->second->group,
        "optimizer state: parameter '{}' has shape {} in group {}, here {} in group {}", name,
        shape_str(p.at("shape").get<Shape>()), p.at("group").get<int>(), shape_str(it->second->param.sizes()),
        it->second->group);
  }

  const nlohmann::json& groups = m.at("groups");
  EMBER_CHECK(static_cast<int>(groups.size()) == num_groups(), "optimizer state: {} parameter groups, here {}",
              groups.size(), num_groups());
  std::vector<Hyperparameters> restored;
  for (int g = 0; g < num_groups(); ++g)
    restored.push_back(hyperparameters_from_json(spec_.name, groups_[g], groups[g]));

  unsigned stored = 0;
  for (const nlohmann::json& n : m.at("states")) {
    const std::string name = n.get<std::string>();
    int slot = -1;
    for (int k = 0; k < kernels::kMaxOptimStates; ++k) {
      const char* s = state_name(spec_.algorithm, k);
      if (s != nullptr && name == s) slot = k;
    }
    EMBER_CHECK(slot >= 0, "optimizer state: {} has no state '{}'", spec_.name, name);
    stored |= 1u << slot;
  }
  const unsigned needed = slots_needed_by(spec_.algorithm, restored);
  EMBER_CHECK((needed & ~stored) == 0, "optimizer state: the stored hyperparameters need state that is not stored");

  // Every tensor is checked before anything changes.
  for (int k = 0; k < kernels::kMaxOptimStates; ++k) {
    if (!((stored >> k) & 1u)) continue;
    for (const auto& [name, e] : trainable) {
      const std::string key = name + "." + state_name(spec_.algorithm, k);
      auto it = sd.tensors.find(key);
      EMBER_CHECK(it != sd.tensors.end(), "optimizer state: tensor '{}' is missing", key);
      EMBER_CHECK(it->second.sizes() == e->param.sizes() && it->second.dtype() == DType::Float32,
                  "optimizer state: tensor '{}' is {} {}, expected float32 {}", key, dtype_name(it->second.dtype()),
                  shape_str(it->second.sizes()), shape_str(e->param.sizes()));
    }
  }
  groups_ = restored;
  steps_ = m.at("step").get<int64_t>();
  allocate_states(stored | needed);
  load_states(sd, stored);
  upload_lrs();
  upload_step();
}

// Each stored state into a full-length buffer (the state buffer itself when not sharded),
// then the shard's part of it into the state buffer.
void Optimizer::load_states(const StateDict& sd, unsigned stored) {
  for (int k = 0; k < kernels::kMaxOptimStates; ++k) {
    if (!((stored >> k) & 1u)) continue;
    const Tensor full = sharded() ? zeros({params_.padded_numel()}, TensorOptions().device(params_.device()))
                                  : states_[k];
    for (const FlatEntry& e : params_.entries()) {
      if (!e.trainable || e.numel == 0) continue;
      flat_view(full, e.offset, e.param.sizes()).copy_(sd.tensors.at(e.name + "." + state_name(spec_.algorithm, k)));
    }
    if (sharded()) states_[k].copy_(full.slice(0, shard_.begin, shard_.end));
  }
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& spec, FlatParameters& params) {
  return std::make_unique<Optimizer>(spec, params);
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& spec, FlatParameters& params) {
  return make_optimizer(parse_optimizer_spec(spec), params);
}

}  // namespace ember::optim
