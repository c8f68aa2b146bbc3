#include "optim/spec.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include "core/error.h"
#include "core/printable.h"

namespace ember::optim {

namespace {

using H = Hyperparameters;

// --- the key=value syntax shared by every spec

struct Option {
  std::string key, value;
};

struct SplitSpec {
  std::string name;
  std::vector<Option> options;
};

std::string trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

std::vector<Option> split_options(const std::string& text, const std::string& context) {
  std::vector<Option> options;
  if (trim(text).empty()) return options;
  std::set<std::string> seen;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string token = trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    const size_t eq = token.find('=');
    EMBER_USAGE_CHECK(eq != std::string::npos && eq > 0, "{}: expected key=value, got '{}'", context, printable(token));
    Option option{trim(token.substr(0, eq)), trim(token.substr(eq + 1))};
    EMBER_USAGE_CHECK(!option.value.empty(), "{}: no value for key '{}'", context, printable(option.key));
    EMBER_USAGE_CHECK(seen.insert(option.key).second, "{}: key '{}' given twice", context, printable(option.key));
    options.push_back(std::move(option));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return options;
}

SplitSpec split_spec(const std::string& text, const char* what) {
  const size_t colon = text.find(':');
  SplitSpec spec;
  spec.name = trim(text.substr(0, colon));
  EMBER_USAGE_CHECK(!spec.name.empty(), "empty {} '{}' (expected NAME[:key=value,...])", what, printable(text));
  if (colon != std::string::npos)
    spec.options = split_options(text.substr(colon + 1), fmt::format("{} '{}'", what, printable(text)));
  return spec;
}

double parse_number(const std::string& value, const std::string& context) {
  errno = 0;
  char* end = nullptr;
  const double x = std::strtod(value.c_str(), &end);
  EMBER_USAGE_CHECK(end != value.c_str() && *end == '\0' && errno != ERANGE && std::isfinite(x),
                    "{}: '{}' is not a finite number", context, printable(value));
  return x;
}

int64_t parse_count(const std::string& value, const std::string& context) {
  const double x = parse_number(value, context);
  EMBER_USAGE_CHECK(x == std::floor(x) && std::fabs(x) < 9e15, "{}: '{}' is not an integer", context, printable(value));
  return static_cast<int64_t>(x);
}

bool parse_bool(const std::string& value, const std::string& context) {
  if (value == "true" || value == "1" || value == "yes") return true;
  if (value == "false" || value == "0" || value == "no") return false;
  throw UsageError(__FILE__, __LINE__,
                   fmt::format("{}: '{}' is not a boolean (use true or false)", context, printable(value)));
}

std::string format_number(double x) { return fmt::format("{}", x); }

// --- optimisers

struct KeyDef {
  const char* key;
  double H::*real;  // exactly one of real and flag is set
  bool H::*flag;
};

struct OptimizerDef {
  const char* name;
  Algorithm algorithm;
  std::vector<KeyDef> keys;
  H defaults;
};

constexpr const char* kCapturable = "capturable";

const std::vector<OptimizerDef>& optimizer_defs() {
  static const std::vector<OptimizerDef> defs = [] {
    const KeyDef lr{"lr", &H::lr, nullptr}, momentum{"momentum", &H::momentum, nullptr},
        dampening{"dampening", &H::dampening, nullptr}, weight_decay{"weight_decay", &H::weight_decay, nullptr},
        alpha{"alpha", &H::alpha, nullptr}, eps{"eps", &H::eps, nullptr}, lr_decay{"lr_decay", &H::lr_decay, nullptr},
        initial_accumulator_value{"initial_accumulator_value", &H::initial_accumulator_value, nullptr},
        rho{"rho", &H::rho, nullptr}, beta1{"beta1", &H::beta1, nullptr}, beta2{"beta2", &H::beta2, nullptr},
        nesterov{"nesterov", nullptr, &H::nesterov}, centered{"centered", nullptr, &H::centered},
        amsgrad{"amsgrad", nullptr, &H::amsgrad}, maximize{"maximize", nullptr, &H::maximize};
    // torch.optim's defaults (torch 2.x; SGD's lr default is 1e-3 since torch 2.5).
    H sgd;
    sgd.lr = 1e-3;
    H nag = sgd;
    nag.momentum = 0.9;
    nag.nesterov = true;
    H rmsprop;
    rmsprop.lr = 1e-2, rmsprop.alpha = 0.99, rmsprop.eps = 1e-8;
    H adagrad;
    adagrad.lr = 1e-2, adagrad.eps = 1e-10;
    H adadelta;
    adadelta.lr = 1.0, adadelta.rho = 0.9, adadelta.eps = 1e-6;
    H adam;
    adam.lr = 1e-3, adam.beta1 = 0.9, adam.beta2 = 0.999, adam.eps = 1e-8;
    H adamw = adam;
    adamw.weight_decay = 1e-2;
    const std::vector<KeyDef> sgd_keys = {lr, momentum, dampening, weight_decay, nesterov, maximize};
    const std::vector<KeyDef> adam_keys = {lr, beta1, beta2, eps, weight_decay, amsgrad, maximize};
    return std::vector<OptimizerDef>{
        {"sgd", Algorithm::Sgd, sgd_keys, sgd},
        {"nag", Algorithm::Sgd, sgd_keys, nag},
        {"rmsprop", Algorithm::RmsProp, {lr, alpha, eps, weight_decay, momentum, centered, maximize}, rmsprop},
        {"adagrad",
         Algorithm::Adagrad,
         {lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize},
         adagrad},
        {"adadelta", Algorithm::Adadelta, {lr, rho, eps, weight_decay, maximize}, adadelta},
        {"adam", Algorithm::Adam, adam_keys, adam},
        {"adamw", Algorithm::AdamW, adam_keys, adamw},
    };
  }();
  return defs;
}

const OptimizerDef& find_def(const std::string& name) {
  for (const OptimizerDef& def : optimizer_defs())
    if (name == def.name) return def;
  throw UsageError(__FILE__, __LINE__,
                   fmt::format("unknown optimizer '{}'; valid names: {}", printable(name),
                               fmt::join(optimizer_names(), ", ")));
}

const KeyDef* find_key(const OptimizerDef& def, const std::string& key) {
  for (const KeyDef& k : def.keys)
    if (key == k.key) return &k;
  return nullptr;
}

void apply_options(const OptimizerDef& def, H& hyper, bool* capturable, const std::vector<Option>& options) {
  for (const Option& option : options) {
    const std::string context = fmt::format("{} option {}", def.name, option.key);
    if (option.key == kCapturable && capturable != nullptr) {
      *capturable = parse_bool(option.value, context);
      continue;
    }
    const KeyDef* key = find_key(def, option.key);
    if (key == nullptr) {
      std::vector<std::string> keys = optimizer_keys(def.name);
      if (capturable == nullptr) keys.pop_back();  // group options: capturable is per optimiser
      throw UsageError(
          __FILE__, __LINE__,
          fmt::format("unknown key '{}' for {}; valid keys: {}", printable(option.key), def.name,
                      fmt::join(keys, ", ")));
    }
    if (key->real)
      hyper.*(key->real) = parse_number(option.value, context);
    else
      hyper.*(key->flag) = parse_bool(option.value, context);
  }
  validate_hyperparameters(def.name, hyper);
}

void check_at_least(const char* name, const char* key, double value, double low) {
  EMBER_USAGE_CHECK(value >= low, "{}: invalid {} {} (must be >= {})", name, key, format_number(value), low);
}

void check_fraction(const char* name, const char* key, double value, bool one_allowed) {
  EMBER_USAGE_CHECK(value >= 0 && (one_allowed ? value <= 1 : value < 1), "{}: invalid {} {} (must be in [0, 1{})",
                    name, key, format_number(value), one_allowed ? "]" : ")");
}

// --- LR schedules

struct ScheduleDef {
  const char* name;
  ScheduleKind kind;
  std::vector<const char*> keys;
};

const std::vector<ScheduleDef>& schedule_defs() {
  static const std::vector<ScheduleDef> defs = {
      {"constant", ScheduleKind::Constant, {"warmup"}},
      {"step", ScheduleKind::Step, {"step_size", "gamma", "warmup"}},
      {"cosine", ScheduleKind::Cosine, {"eta_min", "warmup"}},
      {"onecycle", ScheduleKind::OneCycle, {"pct_start", "div_factor", "final_div_factor"}},
  };
  return defs;
}

std::string schedule_value(const LrSchedule& s, const std::string& key) {
  if (key == "warmup") return std::to_string(s.warmup);
  if (key == "step_size") return std::to_string(s.step_size);
  if (key == "gamma") return format_number(s.gamma);
  if (key == "eta_min") return format_number(s.eta_min);
  if (key == "pct_start") return format_number(s.pct_start);
  if (key == "div_factor") return format_number(s.div_factor);
  return format_number(s.final_div_factor);
}

}  // namespace

// --- optimisers

const std::vector<std::string>& optimizer_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const OptimizerDef& def : optimizer_defs()) n.push_back(def.name);
    return n;
  }();
  return names;
}

std::vector<std::string> optimizer_keys(const std::string& name) {
  std::vector<std::string> keys;
  for (const KeyDef& k : find_def(name).keys) keys.push_back(k.key);
  keys.push_back(kCapturable);
  return keys;
}

Algorithm algorithm_of(const std::string& name) { return find_def(name).algorithm; }
Hyperparameters default_hyperparameters(const std::string& name) { return find_def(name).defaults; }

const char* algorithm_name(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::Sgd: return "sgd";
    case Algorithm::RmsProp: return "rmsprop";
    case Algorithm::Adagrad: return "adagrad";
    case Algorithm::Adadelta: return "adadelta";
    case Algorithm::Adam: return "adam";
    case Algorithm::AdamW: return "adamw";
  }
  return "unknown";
}

void validate_hyperparameters(const std::string& name, const Hyperparameters& h) {
  const OptimizerDef& def = find_def(name);
  const char* n = def.name;
  check_at_least(n, "lr", h.lr, 0);
  check_at_least(n, "weight_decay", h.weight_decay, 0);
  switch (def.algorithm) {
    case Algorithm::Sgd:
      check_at_least(n, "momentum", h.momentum, 0);
      EMBER_USAGE_CHECK(!h.nesterov || (h.momentum > 0 && h.dampening == 0),
                        "{}: nesterov momentum requires a momentum > 0 and zero dampening (momentum {}, dampening {})",
                        n, format_number(h.momentum), format_number(h.dampening));
      break;
    case Algorithm::RmsProp:
      check_at_least(n, "momentum", h.momentum, 0);
      check_at_least(n, "alpha", h.alpha, 0);
      check_at_least(n, "eps", h.eps, 0);
      break;
    case Algorithm::Adagrad:
      check_at_least(n, "lr_decay", h.lr_decay, 0);
      check_at_least(n, "initial_accumulator_value", h.initial_accumulator_value, 0);
      check_at_least(n, "eps", h.eps, 0);
      break;
    case Algorithm::Adadelta:
      check_fraction(n, "rho", h.rho, true);
      check_at_least(n, "eps", h.eps, 0);
      break;
    case Algorithm::Adam:
    case Algorithm::AdamW:
      check_fraction(n, "beta1", h.beta1, false);
      check_fraction(n, "beta2", h.beta2, false);
      check_at_least(n, "eps", h.eps, 0);
      break;
  }
}

OptimizerSpec parse_optimizer_spec(const std::string& text) {
  const SplitSpec split = split_spec(text, "optimizer spec");
  const OptimizerDef& def = find_def(split.name);
  OptimizerSpec spec;
  spec.name = def.name;
  spec.algorithm = def.algorithm;
  spec.hyper = def.defaults;
  apply_options(def, spec.hyper, &spec.capturable, split.options);
  return spec;
}

Hyperparameters parse_group_options(const std::string& name, const Hyperparameters& base, const std::string& options) {
  const OptimizerDef& def = find_def(name);
  Hyperparameters hyper = base;
  apply_options(def, hyper, nullptr,
                split_options(options, fmt::format("{} group options '{}'", name, printable(options))));
  return hyper;
}

std::string format_optimizer_spec(const std::string& name, const Hyperparameters& hyper, bool capturable) {
  const OptimizerDef& def = find_def(name);
  std::string text = std::string(def.name) + ":";
  for (size_t i = 0; i < def.keys.size(); ++i) {
    const KeyDef& k = def.keys[i];
    text += fmt::format("{}{}={}", i ? "," : "", k.key,
                        k.real ? format_number(hyper.*(k.real)) : (hyper.*(k.flag) ? "true" : "false"));
  }
  if (capturable) text += ",capturable=true";
  return text;
}

std::string format_optimizer_spec(const OptimizerSpec& spec) {
  return format_optimizer_spec(spec.name, spec.hyper, spec.capturable);
}

nlohmann::json hyperparameters_to_json(const std::string& name, const Hyperparameters& hyper) {
  nlohmann::json json = nlohmann::json::object();
  for (const KeyDef& k : find_def(name).keys) {
    if (k.real)
      json[k.key] = hyper.*(k.real);
    else
      json[k.key] = hyper.*(k.flag);
  }
  return json;
}

Hyperparameters hyperparameters_from_json(const std::string& name, const Hyperparameters& base,
                                          const nlohmann::json& json) {
  const OptimizerDef& def = find_def(name);
  EMBER_USAGE_CHECK(json.is_object(), "{} hyperparameters: expected a JSON object, got {}", name, json.dump());
  Hyperparameters hyper = base;
  for (const auto& [key, value] : json.items()) {
    const KeyDef* k = find_key(def, key);
    EMBER_USAGE_CHECK(k != nullptr, "{} hyperparameters: unknown key '{}'", name, printable(key));
    if (k->real) {
      EMBER_USAGE_CHECK(value.is_number(), "{} hyperparameter {}: expected a number, got {}", name, key, value.dump());
      hyper.*(k->real) = value.get<double>();
    } else {
      EMBER_USAGE_CHECK(value.is_boolean(), "{} hyperparameter {}: expected a boolean, got {}", name, key,
                        value.dump());
      hyper.*(k->flag) = value.get<bool>();
    }
  }
  validate_hyperparameters(name, hyper);
  return hyper;
}

// --- LR schedules

LrSchedule parse_lr_schedule(const std::string& text) {
  const SplitSpec split = split_spec(text, "LR schedule");
  const ScheduleDef* def = nullptr;
  std::vector<std::string> kinds;
  for (const ScheduleDef& d : schedule_defs()) {
    kinds.push_back(d.name);
    if (split.name == d.name) def = &d;
  }
  EMBER_USAGE_CHECK(def != nullptr, "unknown LR schedule '{}'; valid schedules: {}", printable(split.name),
                    fmt::join(kinds, ", "));
  LrSchedule s;
  s.kind = def->kind;
  for (const Option& option : split.options) {
    bool known = false;
    for (const char* key : def->keys) known = known || option.key == key;
    EMBER_USAGE_CHECK(known, "unknown key '{}' for LR schedule {}; valid keys: {}", printable(option.key), def->name,
                      fmt::join(def->keys, ", "));
    const std::string context = fmt::format("LR schedule {} option {}", def->name, option.key);
    const std::string& k = option.key;
    if (k == "warmup") {
      s.warmup = parse_count(option.value, context);
      EMBER_USAGE_CHECK(s.warmup >= 0, "{}: must be >= 0", context);
    } else if (k == "step_size") {
      s.step_size = parse_count(option.value, context);
      EMBER_USAGE_CHECK(s.step_size >= 1, "{}: must be >= 1", context);
    } else {
      const double x = parse_number(option.value, context);
      if (k == "eta_min") {
        EMBER_USAGE_CHECK(x >= 0, "{}: must be >= 0", context);
        s.eta_min = x;
      } else if (k == "pct_start") {
        EMBER_USAGE_CHECK(x > 0 && x < 1, "{}: must be in (0, 1)", context);
        s.pct_start = x;
      } else {
        EMBER_USAGE_CHECK(x > 0, "{}: must be > 0", context);
        (k == "gamma" ? s.gamma : k == "div_factor" ? s.div_factor : s.final_div_factor) = x;
      }
    }
  }
  return s;
}

std::string format_lr_schedule(const LrSchedule& schedule) {
  for (const ScheduleDef& d : schedule_defs()) {
    if (d.kind != schedule.kind) continue;
    std::string text = d.name;
    for (size_t i = 0; i < d.keys.size(); ++i)
      text += fmt::format("{}{}={}", i ? "," : ":", d.keys[i], schedule_value(schedule, d.keys[i]));
    return text;
  }
  return "constant";
}

}  // namespace ember::optim
