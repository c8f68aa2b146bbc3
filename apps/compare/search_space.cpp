#include "apps/compare/search_space.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "apps/compare/quasi_random.h"
#include "core/error.h"
#include "core/printable.h"
#include "data/parse.h"
#include "optim/spec.h"

namespace ember::compare {

namespace {

struct DefaultSpace {
  const char* optimizer;
  std::vector<SearchDimension> dimensions;
};

// The declared spaces. Ranges: a decade or more either side of torch's default, as wide as
// the AlgoPerf baselines' and Schmidt et al. 2021's spaces, so that the best trial is rarely
// on an edge. A new optimiser is one row (keys as its spec names them).
const std::vector<DefaultSpace>& default_spaces() {
  using S = Scale;
  const SearchDimension weight_decay{"weight_decay", 1e-6, 1e-2, S::Log};
  const SearchDimension eps{"eps", 1e-10, 1e-3, S::Log};
  const std::vector<SearchDimension> sgd = {
      {"lr", 1e-3, 1.0, S::Log}, {"momentum", 0.5, 0.999, S::LogOneMinus}, weight_decay};
  const std::vector<SearchDimension> adam = {{"lr", 1e-5, 1e-1, S::Log},
                                             {"beta1", 0.5, 0.99, S::LogOneMinus},
                                             {"beta2", 0.9, 0.9999, S::LogOneMinus},
                                             eps,
                                             weight_decay};
  std::vector<SearchDimension> adamw = adam;
  adamw.back() = {"weight_decay", 1e-4, 0.5, S::Log};  // decoupled: multiplied by lr
  const std::vector<SearchDimension> lion = {{"lr", 1e-6, 1e-2, S::Log},
                                             {"beta1", 0.5, 0.99, S::LogOneMinus},
                                             {"beta2", 0.9, 0.9999, S::LogOneMinus},
                                             {"weight_decay", 1e-4, 0.5, S::Log}};
  static const std::vector<DefaultSpace> table = {
      {"sgd", sgd},
      {"nag", sgd},
      {"rmsprop", {{"lr", 1e-5, 1e-1, S::Log}, {"alpha", 0.9, 0.9999, S::LogOneMinus}, eps, weight_decay}},
      {"adagrad", {{"lr", 1e-4, 1.0, S::Log}, eps, weight_decay}},
      {"adadelta", {{"lr", 1e-2, 10.0, S::Log}, {"rho", 0.8, 0.999, S::LogOneMinus}, eps, weight_decay}},
      {"adam", adam},
      {"adamw", adamw},
      {"nadam", adam},
      {"radam", adam},
      {"adamax", adam},
      {"asgd", {{"lr", 1e-3, 1.0, S::Log}, {"lambd", 1e-6, 1e-2, S::Log}, weight_decay}},
      {"rprop", {{"lr", 1e-4, 1e-1, S::Log}, {"eta_minus", 0.3, 0.7, S::Linear}, {"eta_plus", 1.1, 1.5, S::Linear}}},
      {"adafactor", {{"lr", 1e-4, 1.0, S::Log}, {"beta2_decay", -1.0, -0.5, S::Linear}, weight_decay}},
      // Muon's lr is per RMS-normalised update (0.02 in the airbench recipes); Lion's sign
      // update wants an lr 3-10x below AdamW's (Chen et al. 2023, section 5).
      {"muon",
       {{"lr", 1e-4, 1e-1, S::Log}, {"momentum", 0.8, 0.99, S::LogOneMinus}, {"weight_decay", 1e-4, 0.5, S::Log}}},
      {"lion", lion},
      // 8-bit state: the 32-bit optimiser's space (the same rule).
      {"adam8bit", adam},
      {"adamw8bit", adamw},
      {"sgd8bit", sgd},
      {"lion8bit", lion},
      // Schedule-Free: around the schedulefree package's defaults (AdamW 0.0025, SGD 1.0); its
      // weight decay is applied at y and scaled by lr, like AdamW's; warmup_steps stays as given.
      {"sfadamw",
       {{"lr", 1e-4, 1e-1, S::Log},
        {"beta1", 0.5, 0.99, S::LogOneMinus},
        {"beta2", 0.9, 0.9999, S::LogOneMinus},
        {"weight_decay", 1e-4, 0.5, S::Log}}},
      {"sfsgd", {{"lr", 1e-2, 10.0, S::Log}, {"momentum", 0.5, 0.99, S::LogOneMinus}, weight_decay}},
  };
  return table;
}

const DefaultSpace* find_default(const std::string& name) {
  for (const DefaultSpace& s : default_spaces())
    if (name == s.optimizer) return &s;
  return nullptr;
}

double parse_bound(const std::string& text, const std::string& context) {
  double v = 0;
  EMBER_USAGE_CHECK(data::parse_double(text, &v), "--space {}: '{}' is not a number", context, printable(text));
  return v;
}

Scale parse_scale(const std::string& text, const std::string& context) {
  for (Scale s : {Scale::Linear, Scale::Log, Scale::LogOneMinus})
    if (text == scale_name(s)) return s;
  throw UsageError(__FILE__, __LINE__,
                   fmt::format("--space {}: scale '{}' is not linear, log or log1m", context, printable(text)));
}

void check_range(const SearchDimension& d, const std::string& context) {
  EMBER_USAGE_CHECK(d.low < d.high, "--space {}: low {} must be below high {}", context, d.low, d.high);
  EMBER_USAGE_CHECK(d.scale != Scale::Log || d.low > 0, "--space {}: a log scale needs bounds above 0, got low {}",
                    context, d.low);
  EMBER_USAGE_CHECK(d.scale != Scale::LogOneMinus || d.high < 1,
                    "--space {}: a log1m scale needs bounds below 1, got high {}", context, d.high);
}

// The default scale of `key` for `optimizer` (its table row; lr is always log), else linear.
Scale default_scale(const std::string& optimizer, const std::string& key) {
  for (const SearchDimension& d : default_search_space(optimizer).dimensions)
    if (d.key == key) return d.scale;
  return key == "lr" ? Scale::Log : Scale::Linear;
}

std::string format_value(double v) { return fmt::format("{:.6g}", v); }

}  // namespace

const char* scale_name(Scale scale) {
  switch (scale) {
    case Scale::Log: return "log";
    case Scale::LogOneMinus: return "log1m";
    default: return "linear";
  }
}

std::string spec_name(const std::string& spec) {
  std::string name = spec.substr(0, spec.find(':'));
  name.erase(0, name.find_first_not_of(' '));
  name.erase(name.find_last_not_of(' ') + 1);
  return name;
}

bool has_declared_space(const std::string& name) { return find_default(name) != nullptr; }

SearchSpace default_search_space(const std::string& name) {
  if (const DefaultSpace* d = find_default(name)) return {name, d->dimensions};
  return {name, {{"lr", 1e-5, 1.0, Scale::Log}}};
}

SpaceOverride parse_space_override(const std::string& text) {
  const std::string usage = "expects NAME:key=LOW:HIGH[:linear|log|log1m],key=fixed,...";
  const size_t colon = text.find(':');
  EMBER_USAGE_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < text.size(), "--space {}; got '{}'", usage,
                    printable(text));
  SpaceOverride o;
  o.optimizer = spec_name(text);
  optim::parse_optimizer_spec(o.optimizer);  // an unknown name: UsageError listing the valid ones
  const std::vector<std::string> keys = optim::optimizer_keys(o.optimizer);
  const nlohmann::json defaults =
      optim::hyperparameters_to_json(o.optimizer, optim::default_hyperparameters(o.optimizer));
  for (const std::string& item : data::split(text.substr(colon + 1), ',')) {
    const size_t eq = item.find('=');
    EMBER_USAGE_CHECK(eq != std::string::npos && eq > 0, "--space {}; got '{}' in '{}'", usage, printable(item),
                      printable(text));
    const std::string key = item.substr(0, eq), body = item.substr(eq + 1);
    const std::string context = fmt::format("{}:{}", o.optimizer, printable(key));
    EMBER_USAGE_CHECK(std::find(keys.begin(), keys.end(), key) != keys.end(),
                      "--space {}: {} has no key '{}'; its keys: {}", printable(text), o.optimizer, printable(key),
                      fmt::join(keys, ", "));
    EMBER_USAGE_CHECK(defaults.contains(key) && defaults[key].is_number(),
                      "--space {}: {} is a flag, not a number: set it in the --optimizer spec", printable(text),
                      context);
    if (body == "fixed") {
      EMBER_USAGE_CHECK(key != "lr", "--space {}: lr is always tuned", printable(text));
      o.fixed.push_back(key);
      continue;
    }
    const std::vector<std::string> parts = data::split(body, ':');
    EMBER_USAGE_CHECK(parts.size() == 2 || parts.size() == 3, "--space {}; got '{}'", usage, printable(item));
    SearchDimension d{key, parse_bound(parts[0], context), parse_bound(parts[1], context),
                      parts.size() == 3 ? parse_scale(parts[2], context) : default_scale(o.optimizer, key)};
    check_range(d, context);
    o.dimensions.push_back(d);
  }
  return o;
}

SearchSpace search_space_for(const std::string& spec, const std::vector<SpaceOverride>& overrides) {
  SearchSpace space = default_search_space(spec_name(spec));
  for (const SpaceOverride& o : overrides) {
    if (o.optimizer != space.optimizer) continue;
    for (const SearchDimension& d : o.dimensions) {
      auto it = std::find_if(space.dimensions.begin(), space.dimensions.end(),
                             [&](const SearchDimension& e) { return e.key == d.key; });
      if (it != space.dimensions.end()) *it = d;
      else space.dimensions.push_back(d);
    }
    for (const std::string& key : o.fixed)
      space.dimensions.erase(std::remove_if(space.dimensions.begin(), space.dimensions.end(),
                                            [&](const SearchDimension& e) { return e.key == key; }),
                             space.dimensions.end());
  }
  for (const SearchDimension& d : space.dimensions) {
    check_range(d, fmt::format("{}:{}", space.optimizer, d.key));
    for (double bound : {d.low, d.high}) {  // torch's argument checks, e.g. nag needs momentum > 0
      try {
        optim::parse_optimizer_spec(spec_with(spec, {{d.key, bound}}));
      } catch (const UsageError& e) {
        throw UsageError(__FILE__, __LINE__,
                         fmt::format("--space {}:{}: bound {} gives an invalid spec: {}", space.optimizer, d.key,
                                     format_value(bound), e.message()));
      }
    }
  }
  return space;
}

std::string format_search_space(const SearchSpace& space) {
  std::string out;
  for (const SearchDimension& d : space.dimensions)
    out += fmt::format("{}{}={}:{}:{}", out.empty() ? "" : ",", d.key, format_value(d.low), format_value(d.high),
                       scale_name(d.scale));
  return out;
}

double map_unit(const SearchDimension& d, double u) {
  switch (d.scale) {
    case Scale::Log: return std::exp(std::log(d.low) + u * (std::log(d.high) - std::log(d.low)));
    case Scale::LogOneMinus: {
      // 1 - value log-uniform on [1 - high, 1 - low]: u = 0 gives low, as on the other scales.
      const double a = std::log1p(-d.low), b = std::log1p(-d.high);
      return -std::expm1(a + u * (b - a));
    }
    default: return d.low + u * (d.high - d.low);
  }
}

std::vector<Trial> draw_trials(const std::string& base_spec, const SearchSpace& space, int trials, uint64_t seed) {
  EMBER_USAGE_CHECK(trials >= 1, "--tune needs at least 1 trial, got {}", trials);
  EMBER_CHECK(!space.dimensions.empty(), "the search space of {} is empty", space.optimizer);
  const HaltonSequence halton(static_cast<int>(space.dimensions.size()), seed);
  std::vector<Trial> out;
  for (int t = 0; t < trials; ++t) {
    Trial trial;
    trial.index = t;
    for (size_t d = 0; d < space.dimensions.size(); ++d) {
      const double v = map_unit(space.dimensions[d], halton.coordinate(static_cast<uint64_t>(t), static_cast<int>(d)));
      trial.values.emplace_back(space.dimensions[d].key, std::stod(format_value(v)));
    }
    trial.spec = spec_with(base_spec, trial.values);
    out.push_back(std::move(trial));
  }
  return out;
}

std::string spec_with(const std::string& spec, const std::vector<std::pair<std::string, double>>& values) {
  const size_t colon = spec.find(':');
  std::vector<std::string> items;
  std::vector<bool> used(values.size(), false);
  if (colon != std::string::npos && colon + 1 < spec.size())
    for (const std::string& kv : data::split(spec.substr(colon + 1), ',')) {
      std::string key = kv.substr(0, kv.find('='));
      key.erase(0, key.find_first_not_of(' '));
      key.erase(key.find_last_not_of(' ') + 1);
      auto it = std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.first == key; });
      if (it == values.end()) {
        items.push_back(kv);
      } else {
        items.push_back(key + "=" + format_value(it->second));
        used[it - values.begin()] = true;
      }
    }
  for (size_t i = 0; i < values.size(); ++i)
    if (!used[i]) items.push_back(values[i].first + "=" + format_value(values[i].second));
  std::string out = spec_name(spec);
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : ":") + items[i];
  return out;
}

}  // namespace ember::compare
