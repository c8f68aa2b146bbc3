#include "optim/optimizer.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "optim/hybrid.h"
#include "optim/optimizer_part.h"

namespace ember::optim {

namespace {

constexpr int kScalars = kernels::kMaxOptimScalars;

// The parameters of each part: one part over every trainable parameter, or a hybrid's two.
std::vector<std::vector<const FlatEntry*>> split_parameters(const OptimizerSpec& spec, const FlatParameters& params) {
  std::vector<std::vector<const FlatEntry*>> parts(spec.hybrid() ? 2 : 1);
  const std::vector<bool> hidden = hidden_weights(params);
  for (size_t i = 0; i < params.entries().size(); ++i) {
    const FlatEntry& e = params.entries()[i];
    if (e.trainable) parts[spec.hybrid() && !hidden[i] ? 1 : 0].push_back(&e);
  }
  EMBER_USAGE_CHECK(!spec.hybrid() || !parts[0].empty(),
                    "{}: {} needs hidden weights (trainable parameters of rank >= 2 other than the output layer) and "
                    "these parameters have none",
                    spec.full_name(), spec.name);
  return parts;
}

// The shard as given, `end < 0` made the whole buffer; checked against the buffers.
FlatShard checked_shard(FlatShard shard, const FlatParameters& params) {
  if (shard.end < 0) shard = {0, params.padded_numel()};
  EMBER_CHECK(shard.begin >= 0 && shard.begin <= shard.end && shard.end <= params.padded_numel() &&
                  shard.begin % 4 == 0 && shard.end % 4 == 0,
              "optimizer: shard [{}, {}) of {} flat elements (it must lie inside and start and end on a multiple "
              "of 4, Note [flat buffer shards])",
              shard.begin, shard.end, params.padded_numel());
  return shard;
}

}  // namespace

void check_shardable(const OptimizerSpec& spec) {
  std::string why;
  if (spec.hybrid())
    why = "a hybrid A+B deals whole parameters to its parts";
  else if (spec.state8bit)
    why = spec.name + " quantises its state in 256-element blocks of each parameter";
  else if (spec.algorithm == Algorithm::Adafactor || spec.algorithm == Algorithm::Muon)
    why = spec.name + " updates whole parameters";
  EMBER_USAGE_CHECK(why.empty(),
                    "{}: a sharded optimizer (ZeRO-1) splits the flat buffers at any element, and {}; use one "
                    "element-wise optimiser with 32-bit state (sgd, adam, adamw, ...) with ZeRO-1, or plain "
                    "data-parallel training",
                    spec.full_name(), why);
}

Optimizer::Optimizer(const OptimizerSpec& spec, FlatParameters& params, FlatShard shard)
    : spec_(spec), params_(params), shard_(checked_shard(shard, params)) {
  if (sharded()) check_shardable(spec_);
  std::vector<std::vector<const FlatEntry*>> entries = split_parameters(spec_, params_);
  const std::vector<PartSpec> specs = spec_.parts();
  bool scalars = false;
  for (size_t p = 0; p < specs.size(); ++p) {
    validate_hyperparameters(specs[p].name, specs[p].hyper);
    parts_.push_back(detail::make_part(specs[p], params_, std::move(entries[p]), !spec_.hybrid(),
                                       sharded() ? shard_ : FlatShard{}));
    detail::Part& part = *parts_.back();
    part.allocate(part.slots_needed(part.groups));
    scalars = scalars || part.scalar_name(0) != nullptr;
  }
  update_lr_ratios();
  if (spec_.capturable) {
    const TensorOptions f64 = TensorOptions(DType::Float64).device(params_.device());
    device_lr_ = zeros({num_parts() * num_groups()}, f64);
    device_step_ = zeros({1 + num_parts()}, TensorOptions(DType::Int64).device(params_.device()));
    if (scalars) device_scalars_ = zeros({num_parts() * num_groups() * kScalars}, f64);
    upload_lrs();
    upload_step();
  }
}

Optimizer::~Optimizer() = default;

bool Optimizer::sharded() const { return shard_.begin != 0 || shard_.end != params_.padded_numel(); }

int Optimizer::num_groups() const { return static_cast<int>(parts_[0]->groups.size()); }

const std::vector<const FlatEntry*>& Optimizer::part_parameters(int part) const {
  EMBER_CHECK(part >= 0 && part < num_parts(), "optimizer: part {} of {}", part, num_parts());
  return parts_[part]->entries();
}

// Part 1 follows part 0's lr by the ratio the two have now (Optimizer::set_lr).
void Optimizer::update_lr_ratios() {
  lr_ratio_.assign(static_cast<size_t>(num_groups()), std::numeric_limits<double>::quiet_NaN());
  if (num_parts() < 2) return;
  for (int g = 0; g < num_groups(); ++g) {
    const double a = parts_[0]->groups[g].lr, b = parts_[1]->groups[g].lr;
    if (a > 0) lr_ratio_[g] = b / a;
  }
}

// One fill kernel per group and part: the value travels as a kernel argument, so setting the
// lr each step (a schedule) never waits for the device, as a copy from the host would.
void Optimizer::upload_lr(int group) {
  if (!spec_.capturable) return;
  for (int p = 0; p < num_parts(); ++p) {
    const int64_t k = int64_t(p) * num_groups() + group;
    device_lr_.slice(0, k, k + 1).fill_(parts_[p]->groups[group].lr);
  }
}

void Optimizer::upload_lrs() {
  for (int g = 0; g < num_groups(); ++g) upload_lr(g);
}

// Only where the host count is the truth (construction, load_state_dict): a replayed CUDA
// graph advances the device counter without the host's steps_ knowing.
void Optimizer::upload_step() {
  if (!spec_.capturable) return;
  std::vector<int64_t> step(static_cast<size_t>(1 + num_parts()), 0);
  step[0] = steps_;
  copy_from_host(device_step_, step.data(), step.size() * sizeof(int64_t));
}

void Optimizer::upload_scalars() {
  if (!device_scalars_.defined()) return;
  std::vector<double> values;
  for (const auto& part : parts_)
    for (const kernels::OptimScalars& s : part->scalars) values.insert(values.end(), s.v, s.v + kScalars);
  copy_from_host(device_scalars_, values.data(), values.size() * sizeof(double));
}

// Part p's group scalars now (from the device in capturable mode).
std::vector<kernels::OptimScalars> Optimizer::group_scalars(int part) const {
  std::vector<kernels::OptimScalars> out = parts_[part]->scalars;
  if (!device_scalars_.defined()) return out;
  const std::vector<double> all = device_scalars_.to_vector<double>();
  for (int g = 0; g < num_groups(); ++g)
    for (int k = 0; k < kScalars; ++k) out[g].v[k] = all[(size_t(part) * num_groups() + g) * kScalars + k];
  return out;
}

std::string Optimizer::spec() const {
  std::string text = format_optimizer_spec(parts_[0]->spec().name, parts_[0]->groups.at(0), spec_.capturable);
  if (num_parts() > 1) text += "+" + format_optimizer_spec(parts_[1]->spec().name, parts_[1]->groups.at(0));
  return text;
}

const Hyperparameters& Optimizer::hyperparameters(int group, int part) const {
  EMBER_CHECK(part >= 0 && part < num_parts(), "optimizer: part {} of {}", part, num_parts());
  EMBER_CHECK(group >= 0 && group < num_groups(), "optimizer: group {} of {}", group, num_groups());
  return parts_[part]->groups[group];
}

void Optimizer::set_hyperparameters(int group, const Hyperparameters& hyper, int part) {
  hyperparameters(group, part);  // range checks
  detail::Part& target = *parts_[part];
  validate_hyperparameters(target.spec().name, hyper);
  std::vector<Hyperparameters> next = target.groups;
  next[group] = hyper;
  const unsigned needed = target.slots_needed(next);
  EMBER_USAGE_CHECK((needed & ~target.slots()) == 0 || step_count() == 0,
                    "{}: these hyperparameters need state (e.g. momentum, amsgrad, centered) that the optimizer did "
                    "not keep; set them before the first step",
                    target.spec().name);
  target.groups = std::move(next);
  target.allocate(needed);
  update_lr_ratios();
  upload_lrs();
}

void Optimizer::configure_group(int group, const std::string& options, int part) {
  const Hyperparameters& base = hyperparameters(group, part);
  set_hyperparameters(group, parse_group_options(parts_[part]->spec().name, base, options), part);
}

void Optimizer::set_lr(int group, double lr) {
  hyperparameters(group);  // range check
  std::vector<Hyperparameters> next(static_cast<size_t>(num_parts()));
  for (int p = 0; p < num_parts(); ++p) {
    next[p] = parts_[p]->groups[group];
    if (p == 0) next[p].lr = lr;
    if (p == 1 && !std::isnan(lr_ratio_[group])) next[p].lr = lr * lr_ratio_[group];
    validate_hyperparameters(parts_[p]->spec().name, next[p]);
  }
  for (int p = 0; p < num_parts(); ++p) parts_[p]->groups[group] = next[p];
  upload_lr(group);
}

void Optimizer::set_lr(double lr) {
  validate_hyperparameters(parts_[0]->spec().name, [&] {
    Hyperparameters h = parts_[0]->groups[0];
    h.lr = lr;
    return h;
  }());
  for (int g = 0; g < num_groups(); ++g) set_lr(g, lr);
}

int64_t Optimizer::step_count() const {
  if (spec_.capturable) return device_step_.to_vector<int64_t>()[0];
  return steps_;
}

int64_t Optimizer::state_bytes() const {
  int64_t bytes = workspace_bytes();
  for (const auto& part : parts_) bytes += part->state_bytes();
  for (const Tensor* t : {&device_lr_, &device_step_, &device_scalars_})
    if (t->defined()) bytes += static_cast<int64_t>(t->nbytes());
  return bytes;
}

int64_t Optimizer::workspace_bytes() const {
  int64_t bytes = 0;
  for (const auto& part : parts_) bytes += part->workspace_bytes();
  return bytes;
}

int64_t Optimizer::cuda_launches_per_step() const {
  int64_t launches = 0;
  for (const auto& part : parts_) launches += part->cuda_launches_per_step();
  return launches;
}

std::vector<std::string> Optimizer::state_names(int part) const {
  hyperparameters(0, part);  // range check
  std::vector<std::string> names;
  for (int k = 0; k < kernels::kMaxOptimStates; ++k)
    if ((parts_[part]->slots() >> k) & 1u) names.emplace_back(parts_[part]->state_name(k));
  return names;
}

const Tensor& Optimizer::state(const std::string& name, int part) const {
  hyperparameters(0, part);  // range check
  const detail::Part& p = *parts_[part];
  for (int k = 0; k < kernels::kMaxOptimStates; ++k)
    if (((p.slots() >> k) & 1u) && name == p.state_name(k)) return p.state(k);
  EMBER_FAIL("{} has no state '{}' (it keeps: {})", p.spec().name, name, fmt::join(state_names(part), ", "));
}

void Optimizer::step() {
  EMBER_CHECK(train_mode_, "{}: step() while the parameters are at the average x (eval mode); call train() first",
              name());
  const int64_t step = steps_ + 1;
  for (int p = 0; p < num_parts(); ++p) {
    detail::StepInputs in;
    in.step = step;
    if (spec_.capturable) {
      in.device_lr = device_lr_.data<double>() + int64_t(p) * num_groups();
      in.device_step = reinterpret_cast<unsigned long long*>(device_step_.data<int64_t>());
      in.completion = in.device_step + 1 + p;
      if (device_scalars_.defined())
        in.device_scalars = device_scalars_.data<double>() + int64_t(p) * num_groups() * kScalars;
      in.advance_step = p == num_parts() - 1;
    }
    parts_[p]->step(in);
  }
  ++steps_;
}

bool Optimizer::has_averaged_parameters() const {
  for (const auto& part : parts_)
    if (part->algorithm() == Algorithm::Asgd && step_count() > 0) return true;
  return false;
}

void Optimizer::swap_averaged_parameters() {
  if (!has_averaged_parameters()) return;
  NoGradGuard no_grad;
  for (const auto& part : parts_) {
    if (part->algorithm() != Algorithm::Asgd) continue;
    for (size_t i = 0; i < part->entries().size(); ++i) {
      const Piece p = piece(*part, i, 0);  // slot 0: ax
      if (p.value.numel() == 0) continue;
      const Tensor saved = p.value.clone();
      p.value.copy_(p.state);
      p.state.copy_(saved);
    }
  }
}

Optimizer::Piece Optimizer::piece(const detail::Part& part, size_t i, int slot) const {
  const FlatEntry& e = *part.entries()[i];
  const int64_t state_offset = part.view(slot, i)->offset;  // in the full-length layout
  int64_t first = e.offset, last = e.offset + e.numel, state_origin = 0;
  if (sharded()) {  // the shard's state starts at shard_.begin of that layout
    first = std::min(std::max(first, shard_.begin), shard_.end);
    last = std::max(std::min(last, shard_.end), first);
    state_origin = shard_.begin;
  }
  const int64_t state_first = state_offset + (first - e.offset) - state_origin;
  return {params_.values().slice(0, first, last), part.state(slot).slice(0, state_first, state_first + last - first)};
}

AveragedParameters::AveragedParameters(Optimizer& optimizer, std::function<void()> moved)
    : optimizer_(optimizer), moved_(std::move(moved)), active_(optimizer.has_averaged_parameters()) {
  if (!active_) return;
  optimizer_.swap_averaged_parameters();
  if (moved_) moved_();
}

AveragedParameters::~AveragedParameters() {
  if (!active_) return;
  optimizer_.swap_averaged_parameters();
  if (moved_) moved_();
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& spec, FlatParameters& params) {
  return std::make_unique<Optimizer>(spec, params);
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& spec, FlatParameters& params) {
  return make_optimizer(parse_optimizer_spec(spec), params);
}

}  // namespace ember::optim
