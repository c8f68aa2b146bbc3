// The declared search space of each optimiser for `--tune N`, its overrides (`--space`), and
// the trial specs drawn from it with the quasi-random sequence (quasi_random.h).
//
// A space is a list of dimensions, one per hyperparameter key of the optimiser spec
// (optim/spec.h): a range and a scale. `log` draws log-uniformly (the learning rate always,
// eps, weight decay), `linear` uniformly, `log1m` log-uniformly in 1 - value (momentum and
// betas: 0.9, 0.99 and 0.999 are equally far apart, as in AlgoPerf's one_minus_beta1). The
// table of defaults (kDefaultSpaces in search_space.cpp) has one row per optimiser; a name
// without a row gets a learning-rate-only space, so new optimisers can be tuned before anyone
// declares their space. The defaults and the syntax are in the README ("Equal tuning budgets").
#pragma once

#include <cstdint>
#include <utility>
#include <string>
#include <vector>

namespace ember::compare {

enum class Scale { Linear, Log, LogOneMinus };
const char* scale_name(Scale scale);  // "linear", "log", "log1m"

struct SearchDimension {
  std::string key;  // a key of the optimiser's spec: lr, momentum, beta1, eps, ...
  double low = 0, high = 0;
  Scale scale = Scale::Log;
};

struct SearchSpace {
  std::string optimizer;  // the spec's name (adam, sgd, ...)
  std::vector<SearchDimension> dimensions;  // lr first
};

// One `--space` value: NAME:key=LOW:HIGH[:SCALE],key=fixed,... `fixed` takes the key out of
// the space (the spec's own value is used); SCALE defaults to the key's default scale, else
// linear.
struct SpaceOverride {
  std::string optimizer;
  std::vector<SearchDimension> dimensions;
  std::vector<std::string> fixed;
};

// The name part of a spec ("adam" of "adam:lr=1e-3").
std::string spec_name(const std::string& spec);
// Whether `name` has a row in the table of default spaces.
bool has_declared_space(const std::string& name);
// The default space of optimiser `name`: its row, else lr log-uniform on [1e-5, 1].
SearchSpace default_search_space(const std::string& name);

// Parses one --space value. UsageError (exit 2, one line) for bad syntax, low >= high, a
// non-positive bound on a log scale, a bound >= 1 on log1m, an unknown optimiser or key, or a
// key that is not a number (nesterov, amsgrad).
SpaceOverride parse_space_override(const std::string& text);
// The space of spec `spec` (the default of its name with every override for that name
// applied, in order). Every dimension's bounds are checked to give a valid spec.
SearchSpace search_space_for(const std::string& spec, const std::vector<SpaceOverride>& overrides);
// "lr=1e-05:0.1:log,beta1=0.5:0.99:log1m" (the syntax parse_space_override reads).
std::string format_search_space(const SearchSpace& space);

// Maps u in [0, 1) to the dimension's range on its scale.
double map_unit(const SearchDimension& dimension, double u);

struct Trial {
  int index = 0;  // 0-based trial number: the Halton point's index
  std::vector<std::pair<std::string, double>> values;  // key -> drawn value, in the space's order
  std::string spec;  // the base spec with the drawn values
};
// N trials of `space` for `base_spec`: trial t is point t of a scrambled Halton sequence
// seeded by `seed` (the same seed for every optimiser, so that every optimiser's trials cover
// its space the same way).
std::vector<Trial> draw_trials(const std::string& base_spec, const SearchSpace& space, int trials, uint64_t seed);

// `spec` with each key of `values` set (replacing it when present, else appended), numbers in
// 6 significant digits.
std::string spec_with(const std::string& spec, const std::vector<std::pair<std::string, double>>& values);

}  // namespace ember::compare
