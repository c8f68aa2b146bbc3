// Optimizer: every optimiser of torch.optim but LBFGS and SparseAdam - SGD (and NAG), RMSprop,
// Adagrad, Adadelta, Adam, AdamW, NAdam, RAdam, Adamax, ASGD, Rprop, Adafactor and Muon - over
// the flat buffers of a FlatParameters, and hybrids `A+B` of two of them (optim/spec.h).
//
//   FlatParameters flat(model.named_parameters(), Device::cuda(), group_by_prefix({"fc."}));
//   auto opt = make_optimizer("sgd:lr=0.1,momentum=0.9,weight_decay=5e-4", flat);
//   opt->configure_group(1, "lr=0.01");           // the fc group
//   for (...) { opt->zero_grad(); loss.backward(); opt->step(); }
//
// An element-wise optimiser's step() is ONE kernel launch on CUDA (kernels/optim_step.cu) and
// one OpenMP pass on the CPU (optim/cpu_step.cpp); both apply the per-element rules of
// kernels/optim_rules.h. Adafactor and Muon add per-parameter phases (optim/optimizer_part.h
// says how many launches). Every parameter of a segment is updated every step, also when its
// gradient is zero (torch skips parameters whose .grad is None; with flat buffers there is no
// None).
//
// A hybrid `A+B` has two parts: part 0 (A) over the hidden weights, part 1 (B) over the rest
// (optim/hybrid.h); each has its own hyperparameters per parameter group and its own state.
// The `part` arguments below pick one (default: part 0).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "optim/flat_parameters.h"
#include "optim/spec.h"

namespace ember::optim {

namespace detail {
class Part;
}

// An optimiser's checkpoint: state tensors named "<parameter name>.<state name>" (torch's
// state names: exp_avg, exp_avg_sq, momentum_buffer, row_var, ...; host copies shaped as torch
// shapes them) and metadata (format, optimiser, step count, every part's algorithm, group
// hyperparameters and group scalars, the parameter list) that JSON-serialises next to them.
struct StateDict {
  std::map<std::string, Tensor> tensors;
  nlohmann::json meta;
};

// Note [flat buffer shards]
// ZeRO-1 (optim/zero1.h) gives each rank the elements [begin, end) of the flat buffers, with
// begin and end multiples of 4 so that every shard starts on a granule (float4) boundary. A
// sharded optimizer's step runs over the trainable elements inside its shard (the part's
// segments cut at the shard's edges) and its state buffers hold only the shard (end - begin
// elements, laid out like the parameters from `begin` on). The element-wise rules give each
// element exactly the update the full step would give it. Adafactor and Muon update whole
// parameters (row and column statistics, Newton-Schulz of the matrix) and the 8-bit optimisers
// quantise each parameter's state in 256-element blocks from the parameter's start (a shard
// edge at any multiple of 4 would cut a block and its absmax), so a shard is refused for them,
// and for hybrids (a UsageError when constructing).
struct FlatShard {
  int64_t begin = 0;
  int64_t end = -1;  // < 0: all of the flat buffers
};

// A UsageError unless `spec` can be sharded: one element-wise optimiser with 32-bit state (not
// Adafactor, Muon, an 8-bit optimiser or a hybrid).
void check_shardable(const OptimizerSpec& spec);

class Optimizer {
 public:
  // `params` must outlive the optimizer. Every group starts with the spec's hyperparameters.
  // A hybrid (or muon) on parameters without hidden weights is a UsageError. With a shard
  // (Note [flat buffer shards]) step() updates only the shard's parameters and the state
  // buffers hold only the shard.
  Optimizer(const OptimizerSpec& spec, FlatParameters& params, FlatShard shard = {});
  ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every trainable parameter with its current gradient.
  void step();
  void zero_grad() { params_.zero_grad(); }

  std::string name() const { return spec_.full_name(); }  // as given: "nag", "muon+adamw", ...
  Algorithm algorithm() const { return spec_.algorithm; }   // part 0's
  // Canonical spec with group 0's hyperparameters (every key; parse_optimizer_spec gives it back).
  std::string spec() const;
  FlatParameters& parameters() const { return params_; }

  int num_groups() const;
  int num_parts() const { return static_cast<int>(parts_.size()); }
  // Part p's trainable parameters (FlatEntry pointers into parameters().entries()).
  const std::vector<const FlatEntry*>& part_parameters(int part) const;
  const Hyperparameters& hyperparameters(int group, int part = 0) const;
  // Replaces a group's hyperparameters (validated). Turning on something that needs a new
  // state buffer (momentum, amsgrad, centered) is allowed only before the first step.
  void set_hyperparameters(int group, const Hyperparameters& hyper, int part = 0);
  // Applies "key=value,..." to a group, e.g. configure_group(1, "lr=0.01,weight_decay=0").
  void configure_group(int group, const std::string& options, int part = 0);
  // Part 0's learning rate. set_lr sets it and, in a hybrid, scales part 1's by the same
  // factor (part 1 keeps the ratio of the two lrs as last configured), so that an LR schedule
  // acts on both parts as on one optimiser.
  double lr(int group = 0) const { return hyperparameters(group).lr; }
  void set_lr(int group, double lr);
  void set_lr(double lr);  // every group

  // Steps taken (reads the device counter in capturable mode).
  int64_t step_count() const;
  // Memory the optimiser holds: its state buffers, a few scalars and the workspace its step
  // needs (Muon's Newton-Schulz buffers), in bytes; workspace_bytes() is the last part.
  int64_t state_bytes() const;
  int64_t workspace_bytes() const;
  // Kernel launches, cuBLAS calls and device copies one step() makes on CUDA (element-wise: 1;
  // Adafactor: 3; Muon: optim/optimizer_part.h).
  int64_t cuda_launches_per_step() const;
  // [begin, end) of the flat buffers this optimizer updates (all of them when not sharded).
  FlatShard shard() const { return shard_; }
  bool sharded() const;
  // The state buffers by torch's state names (exp_avg, ...), in slot order (the shard's part
  // only when sharded).
  std::vector<std::string> state_names(int part = 0) const;
  const Tensor& state(const std::string& name, int part = 0) const;

  // ASGD: whether a part keeps averaged parameters (torch's `ax`) and has taken a step, and
  // the swap of the parameters with them (twice restores). Evaluating with the averages:
  // { AveragedParameters avg(*optimizer); evaluate(model); }. A sharded optimizer swaps (and
  // Schedule-Free's eval() moves) only the parameters inside its shard: Zero1Step's
  // gather_parameters() then gives every rank all of them.
  bool has_averaged_parameters() const;
  void swap_averaged_parameters();

  // Schedule-Free (sfadamw, sfsgd; Note [schedule-free sequences] in kernels/optim_rules.h):
  // training runs at y, evaluation at the average x. eval() moves the parameters of every
  // Schedule-Free part to x in place, as the schedulefree package's optimizer.eval() does
  // (optim/schedule_free.cpp), keeping a copy of y; train() restores that copy, bit for bit
  // (the package recomputes y by a lerp, which rounds). Nothing moves before the first step,
  // when already in that mode, or in parts of other optimisers (an optimiser without a
  // Schedule-Free part stays in train mode). An optimiser starts in train mode; step() in
  // eval mode is an error. The mode and, at x, y ("<name>.y") are in the state dict: a
  // checkpoint written at x loads at x, and train() then continues from the exact y.
  bool schedule_free() const;
  bool train_mode() const { return train_mode_; }
  void eval();
  void train();

  // Capturable mode: the learning rates (float64 [parts * groups]), the step counter (int64
  // [1 + parts]: steps taken, then one completion counter per part) and the group scalars in
  // device memory, read by the step kernels, so that a CUDA graph of a training step can be
  // replayed. set_lr() writes lr_tensor(); a captured graph may also update it on the device.
  bool capturable() const { return spec_.capturable; }
  const Tensor& lr_tensor() const { return device_lr_; }
  const Tensor& step_tensor() const { return device_step_; }

  // Not for a sharded optimizer: its state is spread over the ranks (Zero1Step gathers it and
  // calls state_dict_from).
  StateDict state_dict() const;
  // The state dict from full-length state buffers (padded_numel() elements, laid out like the
  // parameters), one per state_names() entry: e.g. the shards of every rank gathered. Only
  // for a one-part element-wise optimizer, the kind that can be sharded.
  StateDict state_dict_from(const std::vector<Tensor>& full_states) const;
  // Restores the step count, every group's hyperparameters and scalars and all state tensors.
  // Everything is checked first - the format, that the optimiser is the same (every part's
  // algorithm), the parameters (names, shapes, groups, parts), the hyperparameters, every
  // tensor's name, dtype and shape - and only then is anything changed: a bad state dict
  // leaves the optimiser as it was. A sharded optimizer keeps its shard of the state, so a
  // checkpoint resumes on any number of ranks.
  void load_state_dict(const StateDict& state);

 private:
  struct PendingLoad;
  void check_state_dict(const StateDict& sd, PendingLoad& pending) const;
  // The state dict with part p's slot k read from buffer(p, k), laid out as part.view says.
  StateDict collect_state_dict(const std::function<const Tensor&(int part, int slot)>& buffer) const;
  void load_state(detail::Part& part, int slot, const StateDict& sd);
  void update_lr_ratios();
  void upload_lr(int group);
  void upload_lrs();
  void upload_step();
  void upload_scalars();
  std::vector<kernels::OptimScalars> group_scalars(int part) const;
  void move_to_average();
  // Parameter i of `part` and its state in `slot`, flattened: all of it, or, sharded, the
  // elements inside the shard (empty when none; Note [flat buffer shards]).
  struct Piece {
    Tensor value, state;
  };
  Piece piece(const detail::Part& part, size_t i, int slot) const;

  OptimizerSpec spec_;
  FlatParameters& params_;
  FlatShard shard_;
  std::vector<std::unique_ptr<detail::Part>> parts_;
  std::vector<double> lr_ratio_;  // per group: part 1's lr over part 0's (NaN: part 1 keeps its own)
  int64_t steps_ = 0;
  bool train_mode_ = true;  // Schedule-Free: the parameters hold y (false: x)
  Tensor saved_y_;          // Schedule-Free at x: the flat parameters at y (undefined otherwise)
  Tensor device_lr_, device_step_, device_scalars_;
};

// Swaps the parameters with ASGD's averages for the guard's lifetime (nothing without them).
// `moved`, if set, runs after each swap (ZeRO-1: gather the shards' parameters).
class AveragedParameters {
 public:
  explicit AveragedParameters(Optimizer& optimizer, std::function<void()> moved = {});
  ~AveragedParameters();
  AveragedParameters(const AveragedParameters&) = delete;
  AveragedParameters& operator=(const AveragedParameters&) = delete;
  bool active() const { return active_; }

 private:
  Optimizer& optimizer_;
  std::function<void()> moved_;
  bool active_;
};

std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& spec, FlatParameters& params);
// Parses `spec` (optim/spec.h): a bad spec is an ember::UsageError.
std::unique_ptr<Optimizer> make_optimizer(const std::string& spec, FlatParameters& params);

}  // namespace ember::optim
