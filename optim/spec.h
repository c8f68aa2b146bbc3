// Spec strings: the one place where optimiser and LR-schedule descriptions are parsed,
// validated and printed. Every app takes its optimisers as NAME[:key=value,...]:
//
//   sgd:lr=0.01,momentum=0.9,nesterov=true
//   adam:lr=1e-3,beta1=0.9,beta2=0.999,amsgrad=true
//   muon:lr=0.02,momentum=0.95+adamw:lr=3e-3,weight_decay=0   (a hybrid, below)
//   cosine:warmup=500,eta_min=1e-5          (an LR schedule)
//
// Names and keys are torch.optim's (tuples split: betas into beta1 and beta2, Rprop's etas
// into eta_minus and eta_plus and its step_sizes into step_size_min and step_size_max,
// Adafactor's eps into eps1 and eps2, Muon's ns_coefficients into ns_a, ns_b, ns_c), and so
// are the defaults and the argument checks. `nag` is sgd with nesterov=true and momentum 0.9
// by default. Every optimiser also takes `capturable` (torch's name for keeping the step
// count and learning rate on the device, so that a step can be captured in a CUDA graph).
//
// Hybrid specs `A+B`: optimiser A gets the hidden weights (trainable parameters of rank >= 2
// other than the output layer, see optim/hybrid.h) and optimiser B every other parameter,
// each with its own keys. A bare `muon` means `muon+adamw` with torch's AdamW defaults (Muon
// is for hidden weight matrices only, as torch.optim.Muon); `capturable` in either part
// applies to both.
//
// Anything unknown or out of range is an ember::UsageError whose message lists what is
// valid.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/optim_rules.h"
#include "optim/lr_schedule.h"

namespace ember::optim {

using Algorithm = kernels::OptimAlgorithm;
using Hyperparameters = kernels::OptimHyper;

// One optimiser: its name as written (one of optimizer_names()), algorithm and hyperparameters
// (torch's defaults for the name, then the spec's keys).
struct PartSpec {
  std::string name = "sgd";
  Algorithm algorithm = Algorithm::Sgd;
  Hyperparameters hyper;
  // adam8bit, adamw8bit, sgd8bit, lion8bit: the algorithm's rule with 8-bit block-wise state
  // (kernels/optim_blockwise8_rule.h; parameters under 4,096 elements keep 32-bit state).
  bool state8bit = false;
};

// A spec: one optimiser, or a hybrid `A+B` whose first part is A (name, algorithm, hyper)
// and whose `rest` is B.
struct OptimizerSpec : PartSpec {
  bool capturable = false;
  std::optional<PartSpec> rest;

  bool hybrid() const { return rest.has_value(); }
  // "adam", or "muon+adamw" for a hybrid.
  std::string full_name() const { return hybrid() ? name + "+" + rest->name : name; }
  // The parts in order: A, then B for a hybrid.
  std::vector<PartSpec> parts() const;
};

// NAME[:key=value,...] or A+B (each part NAME[:key=value,...]); whitespace around tokens is
// ignored.
OptimizerSpec parse_optimizer_spec(const std::string& text);
// Applies "key=value,..." to one parameter group's hyperparameters of optimiser `name`
// (e.g. a group override "lr=0.1,weight_decay=0") and validates the result.
Hyperparameters parse_group_options(const std::string& name, const Hyperparameters& base, const std::string& options);
// NAME:key=value,... with every key of the optimiser (numbers in shortest round-trip form);
// parse_optimizer_spec of it gives the same spec back. A hybrid prints both parts, joined by +.
std::string format_optimizer_spec(const std::string& name, const Hyperparameters& hyper, bool capturable = false);
std::string format_optimizer_spec(const OptimizerSpec& spec);

// torch's constructor checks for `name`'s arguments (lr >= 0, 0 <= beta < 1, nesterov needs
// momentum > 0 and dampening 0, ...): throws UsageError naming the argument.
void validate_hyperparameters(const std::string& name, const Hyperparameters& hyper);

const std::vector<std::string>& optimizer_names();
// The keys `name` accepts, in canonical order (capturable last). Throws for an unknown name.
std::vector<std::string> optimizer_keys(const std::string& name);
Algorithm algorithm_of(const std::string& name);
const char* algorithm_name(Algorithm algorithm);  // "sgd", "rmsprop", ..., "adamw", "nadam", ..., "muon"
Hyperparameters default_hyperparameters(const std::string& name);
// Whether `name` can only update weight matrices (muon): it must be A of a hybrid.
bool matrices_only(const std::string& name);
// Whether `name` keeps 8-bit block-wise state (adam8bit, adamw8bit, sgd8bit, lion8bit).
bool state8bit(const std::string& name);
// "sgd, nag, ..., muon": for help texts.
std::string optimizer_names_text();

// A group's hyperparameters as {key: value} over the optimiser's keys (checkpoint metadata),
// and back (validated; keys missing from the object keep `base`'s values).
nlohmann::json hyperparameters_to_json(const std::string& name, const Hyperparameters& hyper);
Hyperparameters hyperparameters_from_json(const std::string& name, const Hyperparameters& base,
                                          const nlohmann::json& json);

// KIND[:key=value,...] with KIND constant, step, cosine or onecycle (see lr_schedule.h).
LrSchedule parse_lr_schedule(const std::string& text);
std::string format_lr_schedule(const LrSchedule& schedule);

}  // namespace ember::optim
