// Optimizer: torch.optim's SGD (and NAG), RMSprop, Adagrad, Adadelta, Adam and AdamW over the
// flat buffers of a FlatParameters, one fused pass per step().
//
//   FlatParameters flat(model.named_parameters(), Device::cuda(), group_by_prefix({"fc."}));
//   auto opt = make_optimizer("sgd:lr=0.1,momentum=0.9,weight_decay=5e-4", flat);
//   opt->configure_group(1, "lr=0.01");           // the fc group
//   for (...) { opt->zero_grad(); loss.backward(); opt->step(); }
//
// step() is ONE kernel launch on CUDA (kernels/optim_step.cu) and one OpenMP pass on the CPU
// (optim/cpu_step.cpp); both apply the per-element rules of kernels/optim_rules.h. Every
// parameter of a segment is updated every step, also when its gradient is zero (torch skips
// parameters whose .grad is None; with flat buffers there is no None).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "optim/flat_parameters.h"
#include "optim/spec.h"

namespace ember::optim {

// An optimiser's checkpoint: state tensors named "<parameter name>.<state name>" (torch's
// state names: exp_avg, exp_avg_sq, momentum_buffer, ...; host copies shaped like the
// parameter) and metadata (format, optimiser, step count, every group's hyperparameters,
// the parameter list) that JSON-serialises next to them.
struct StateDict {
  std::map<std::string, Tensor> tensors;
  nlohmann::json meta;
};

// The elements [begin, end) of the flat buffers an optimizer updates and keeps state for
// (Note [flat buffer shards]); end < 0 means all of them.
struct FlatShard {
  int64_t begin = 0;
  int64_t end = -1;
};

class Optimizer {
 public:
  // `params` must outlive the optimizer. Every group starts with spec.hyper. With a shard
  // (ZeRO-1, optim/zero1.h) step() updates only the shard's parameters and the state
  // buffers hold only the shard.
  Optimizer(const OptimizerSpec& spec, FlatParameters& params, FlatShard shard = {});
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every trainable parameter with its current gradient.
  void step();
  void zero_grad() { params_.zero_grad(); }

  std::string name() const { return spec_.name; }  // as given: "nag", "adamw", ...
  Algorithm algorithm() const { return spec_.algorithm; }
  // Canonical spec of group 0 (every key; parse_optimizer_spec gives it back).
  std::string spec() const;
  FlatParameters& parameters() const { return params_; }

  int num_groups() const { return static_cast<int>(groups_.size()); }
  const Hyperparameters& hyperparameters(int group) const;
  // Replaces a group's hyperparameters (validated). Turning on something that needs a new
  // state buffer (momentum, amsgrad, centered) is allowed only before the first step.
  void set_hyperparameters(int group, const Hyperparameters& hyper);
  // Applies "key=value,..." to a group, e.g. configure_group(1, "lr=0.01,weight_decay=0").
  void configure_group(int group, const std::string& options);
  double lr(int group = 0) const { return hyperparameters(group).lr; }
  void set_lr(int group, double lr);
  void set_lr(double lr);  // every group

  // Steps taken (reads the device counter in capturable mode).
  int64_t step_count() const;
  // [begin, end) of the flat buffers this optimizer updates (all of them when not sharded).
  FlatShard shard() const { return shard_; }
  bool sharded() const { return shard_.begin != 0 || shard_.end != params_.padded_numel(); }
  // Extra memory the optimiser holds: its state buffers (and a few scalars), in bytes.
  int64_t state_bytes() const;
  // The flat state buffers by torch's state names (exp_avg, ...), in slot order (the shard's
  // part only when sharded).
  std::vector<std::string> state_names() const;
  const Tensor& state(const std::string& name) const;

  // Capturable mode: the learning rates (float64 [groups]) and the step counter (int64 [2]:
  // steps taken, completion counter) in device memory, read by the step kernel, so that a
  // CUDA graph of a training step can be replayed. set_lr() writes lr_tensor(); a captured
  // graph may also update it on the device.
  bool capturable() const { return spec_.capturable; }
  const Tensor& lr_tensor() const { return device_lr_; }
  const Tensor& step_tensor() const { return device_step_; }

  // Not for a sharded optimizer: its state is spread over the ranks (Zero1Step gathers it and
  // calls state_dict_from).
  StateDict state_dict() const;
  // The state dict from full-length state buffers, one per state_names() entry, e.g. the
  // shards of every rank gathered.
  StateDict state_dict_from(const std::vector<Tensor>& full_states) const;
  // Restores the step count, every group's hyperparameters and all state tensors, checking
  // that the parameters (names, shapes, groups) and the algorithm match. A sharded optimizer
  // keeps its shard of the state, so a checkpoint resumes on any number of ranks.
  void load_state_dict(const StateDict& state);

 private:
  unsigned slots_needed() const;
  void allocate_states(unsigned slots);
  void upload_lr(int group);
  void upload_lrs();
  void upload_step();
  kernels::FusedStepArgs step_args() const;

  void load_states(const StateDict& sd, unsigned stored);

  OptimizerSpec spec_;
  FlatParameters& params_;
  FlatShard shard_;
  std::vector<kernels::OptimSegment> shard_segments_;  // sharded only: the table of the shard
  Tensor shard_table_;                                  // ... on the parameters' device
  int64_t shard_granules_ = 0;
  std::vector<Hyperparameters> groups_;
  unsigned slots_ = 0;
  Tensor states_[kernels::kMaxOptimStates];
  int64_t steps_ = 0;
  Tensor device_lr_, device_step_;
};

std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& spec, FlatParameters& params);
// Parses `spec` (optim/spec.h): a bad spec is an ember::UsageError.
std::unique_ptr<Optimizer> make_optimizer(const std::string& spec, FlatParameters& params);

}  // namespace ember::optim
