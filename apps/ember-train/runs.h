// The runs of a comparison: every optimiser (--optimizer), at every learning rate of a sweep
// (--sweep), repeated with seeds seed..seed+K-1 (--repeats); and the data schedule of a
// distribution shift (--shift).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "optim/spec.h"

namespace ember::train {

struct RunSpec {
  std::string base;       // the spec as given by --optimizer
  std::string optimizer;  // the spec this run uses: base, with the sweep's lr when sweeping
  std::string label;      // how figures and tables name the run's group: optimizer
  double lr = 0;          // the run's learning rate
  bool swept = false;
  int repeat = 0;
  uint64_t seed = 0;      // initial weights, batch order, augmentation
  optim::OptimizerSpec parsed;  // `optimizer`, parsed
};

// More runs than any comparison can train: a bound, so that a configuration (from a command
// line or a damaged checkpoint) cannot ask for millions of them.
constexpr int kMaxRuns = 100000;

// Every spec of `specs` at every lr of `sweep_lrs` (each spec's own lr when empty), `repeats`
// times with seeds seed..seed+repeats-1: optimiser-major, then learning rate, then repeat.
// Usage errors for bad specs, repeats < 1 or more than kMaxRuns runs.
std::vector<RunSpec> expand_runs(const std::vector<std::string>& specs, const std::vector<double>& sweep_lrs,
                                 int repeats, uint64_t seed);

// "lr=A:B:N" (N values log-spaced from A to B, both > 0, N >= 1) or "lr=v1,v2,...".
std::vector<double> parse_sweep(const std::string& text);
// `spec` with lr=value (replacing its lr key or adding one).
std::string with_lr(const std::string& spec, double lr);

enum class ShiftKind { None, Labels, Classes };
struct Shift {
  ShiftKind kind = ShiftKind::None;
  int epoch = 0;  // 1-based: the first epoch trained on the shifted data
};
// "E:labels" or "E:classes" with 2 <= E <= epochs (a shift at epoch 1 would be no shift).
Shift parse_shift(const std::string& text, int epochs);
const char* shift_name(ShiftKind kind);
// A permutation of the 10 labels drawn from `seed` with no label left in place.
std::vector<int64_t> shift_permutation(uint64_t seed);

}  // namespace ember::train
