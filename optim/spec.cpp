#include "optim/spec.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
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

using kernels::MuonAdjustLr;

constexpr const char* kAdjustLrNames[] = {"original", "match_rms_adamw", "spectral_unclamped"};

// One key of an optimiser: a number, a flag or (adjust_lr_fn) one of kAdjustLrNames. Exactly
// one member pointer is set.
struct KeyDef {
  const char* key;
  double H::*real = nullptr;
  bool H::*flag = nullptr;
  MuonAdjustLr H::*choice = nullptr;
};

void check_at_least(const char* name, const char* key, double value, double low) {
  EMBER_USAGE_CHECK(value >= low, "{}: invalid {} {} (must be >= {})", name, key, format_number(value), low);
}

void check_at_most(const char* name, const char* key, double value, double high) {
  EMBER_USAGE_CHECK(value <= high, "{}: invalid {} {} (must be <= {})", name, key, format_number(value), high);
}

void check_fraction(const char* name, const char* key, double value, bool one_allowed) {
  EMBER_USAGE_CHECK(value >= 0 && (one_allowed ? value <= 1 : value < 1), "{}: invalid {} {} (must be in [0, 1{})",
                    name, key, format_number(value), one_allowed ? "]" : ")");
}

void check_betas(const char* n, const H& h) {
  check_fraction(n, "beta1", h.beta1, false);
  check_fraction(n, "beta2", h.beta2, false);
  check_at_least(n, "eps", h.eps, 0);
}

// torch's constructor checks beyond lr >= 0 and weight_decay >= 0 (checked for every optimiser).
void check_sgd(const char* n, const H& h) {
  check_at_least(n, "momentum", h.momentum, 0);
  EMBER_USAGE_CHECK(!h.nesterov || (h.momentum > 0 && h.dampening == 0),
                    "{}: nesterov momentum requires a momentum > 0 and zero dampening (momentum {}, dampening {})", n,
                    format_number(h.momentum), format_number(h.dampening));
}
void check_rmsprop(const char* n, const H& h) {
  check_at_least(n, "momentum", h.momentum, 0);
  check_at_least(n, "alpha", h.alpha, 0);
  check_at_least(n, "eps", h.eps, 0);
}
void check_adagrad(const char* n, const H& h) {
  check_at_least(n, "lr_decay", h.lr_decay, 0);
  check_at_least(n, "initial_accumulator_value", h.initial_accumulator_value, 0);
  check_at_least(n, "eps", h.eps, 0);
}
void check_adadelta(const char* n, const H& h) {
  check_fraction(n, "rho", h.rho, true);
  check_at_least(n, "eps", h.eps, 0);
}
void check_nadam(const char* n, const H& h) {
  check_betas(n, h);
  check_at_least(n, "momentum_decay", h.momentum_decay, 0);
}
void check_asgd(const char* n, const H& h) {
  check_at_least(n, "lambd", h.lambd, 0);
  check_at_least(n, "alpha", h.alpha, 0);
}
void check_rprop(const char* n, const H& h) {
  EMBER_USAGE_CHECK(0 < h.eta_minus && h.eta_minus < 1 && 1 < h.eta_plus,
                    "{}: invalid eta_minus {} and eta_plus {} (must be 0 < eta_minus < 1 < eta_plus)", n,
                    format_number(h.eta_minus), format_number(h.eta_plus));
}
void check_lion(const char* n, const H& h) {  // lion-pytorch's and bitsandbytes' checks: betas in [0, 1)
  check_fraction(n, "beta1", h.beta1, false);
  check_fraction(n, "beta2", h.beta2, false);
}
void check_sgd8bit(const char* n, const H& h) {  // bitsandbytes' SGD8bit: momentum only
  EMBER_USAGE_CHECK(h.momentum > 0, "{}: invalid momentum {} (8-bit state is a momentum: must be > 0)", n,
                    format_number(h.momentum));
  check_sgd(n, h);
}
// Schedule-Free (the schedulefree package checks only SGD's momentum in (0, 1)): beta1 (SGD:
// momentum) in (0, 1), since x = lerp(y, z, 1 - 1/beta1); warmup_steps a count; weight_lr_power
// >= 0 (lr_max is 0 at lr 0, and 0 to a negative power is a division by zero in the package).
void check_schedulefree(const char* n, const H& h) {
  EMBER_USAGE_CHECK(h.warmup_steps == std::floor(h.warmup_steps) && h.warmup_steps >= 0 && h.warmup_steps < 9e15,
                    "{}: invalid warmup_steps {} (must be an integer >= 0)", n, format_number(h.warmup_steps));
  check_at_least(n, "weight_lr_power", h.weight_lr_power, 0);
}
void check_sfadamw(const char* n, const H& h) {
  EMBER_USAGE_CHECK(h.beta1 > 0 && h.beta1 < 1, "{}: invalid beta1 {} (must be in (0, 1))", n, format_number(h.beta1));
  check_fraction(n, "beta2", h.beta2, false);
  check_at_least(n, "eps", h.eps, 0);
  check_schedulefree(n, h);
}
void check_sfsgd(const char* n, const H& h) {
  EMBER_USAGE_CHECK(h.momentum > 0 && h.momentum < 1, "{}: invalid momentum {} (must be in (0, 1))", n,
                    format_number(h.momentum));
  check_schedulefree(n, h);
}
void check_adafactor(const char* n, const H& h) {
  check_at_most(n, "beta2_decay", h.beta2_decay, 0);
  check_at_least(n, "eps1", h.eps1, 0);
  check_at_least(n, "eps2", h.eps2, 0);
  check_at_least(n, "d", h.d, 1);
}
void check_muon(const char* n, const H& h) {
  check_at_least(n, "momentum", h.momentum, 0);
  EMBER_USAGE_CHECK(h.ns_steps == std::floor(h.ns_steps) && h.ns_steps >= 0 && h.ns_steps < 100,
                    "{}: invalid ns_steps {} (must be an integer in [0, 99])", n, format_number(h.ns_steps));
}

// One row of the optimiser table: everything optim/ knows about a name besides its rule.
struct OptimizerDef {
  const char* name;
  Algorithm algorithm;
  std::vector<KeyDef> keys;
  H defaults;
  void (*check)(const char* name, const H& hyper);
  bool matrices_only = false;  // muon: hidden weight matrices only (A of a hybrid)
  bool state8bit = false;      // adam8bit, ...: 8-bit block-wise state (kernels/optim_blockwise8_rule.h)
};

constexpr const char* kCapturable = "capturable";

// Note [optimiser table]: the optimisers ember has, in the order help texts list them, with
// torch.optim's defaults (torch 2.x; SGD's lr default is 1e-3 since torch 2.5; Lion, not in
// torch, has its paper's; Schedule-Free the schedulefree package's). Adding one: a row here
// and, for an element-wise optimiser, its rule in kernels/optim_rules.h.
const std::vector<OptimizerDef>& optimizer_defs() {
  static const std::vector<OptimizerDef> defs = [] {
    const KeyDef lr{"lr", &H::lr}, momentum{"momentum", &H::momentum}, dampening{"dampening", &H::dampening},
        weight_decay{"weight_decay", &H::weight_decay}, alpha{"alpha", &H::alpha}, eps{"eps", &H::eps},
        lr_decay{"lr_decay", &H::lr_decay},
        initial_accumulator_value{"initial_accumulator_value", &H::initial_accumulator_value}, rho{"rho", &H::rho},
        beta1{"beta1", &H::beta1}, beta2{"beta2", &H::beta2}, momentum_decay{"momentum_decay", &H::momentum_decay},
        lambd{"lambd", &H::lambd}, t0{"t0", &H::t0}, eta_minus{"eta_minus", &H::eta_minus},
        eta_plus{"eta_plus", &H::eta_plus}, step_size_min{"step_size_min", &H::step_size_min},
        step_size_max{"step_size_max", &H::step_size_max}, beta2_decay{"beta2_decay", &H::beta2_decay},
        eps1{"eps1", &H::eps1}, eps2{"eps2", &H::eps2}, d{"d", &H::d}, ns_a{"ns_a", &H::ns_a},
        ns_b{"ns_b", &H::ns_b}, ns_c{"ns_c", &H::ns_c}, ns_steps{"ns_steps", &H::ns_steps},
        warmup_steps{"warmup_steps", &H::warmup_steps}, r{"r", &H::r},
        weight_lr_power{"weight_lr_power", &H::weight_lr_power};
    const KeyDef nesterov{"nesterov", nullptr, &H::nesterov}, centered{"centered", nullptr, &H::centered},
        amsgrad{"amsgrad", nullptr, &H::amsgrad}, maximize{"maximize", nullptr, &H::maximize},
        decoupled{"decoupled_weight_decay", nullptr, &H::decoupled_weight_decay};
    const KeyDef adjust_lr_fn{"adjust_lr_fn", nullptr, nullptr, &H::adjust_lr_fn};
    H sgd;
    sgd.lr = 1e-3;
    H nag = sgd;
    nag.momentum = 0.9, nag.nesterov = true;
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
    H nadam = adam;
    nadam.lr = 2e-3, nadam.momentum_decay = 4e-3;
    H adamax = adam;
    adamax.lr = 2e-3;
    H asgd;
    asgd.lr = 1e-2, asgd.lambd = 1e-4, asgd.alpha = 0.75, asgd.t0 = 1e6;
    H rprop;
    rprop.lr = 1e-2, rprop.eta_minus = 0.5, rprop.eta_plus = 1.2, rprop.step_size_min = 1e-6,
    rprop.step_size_max = 50;
    H adafactor;
    adafactor.lr = 1e-2, adafactor.beta2_decay = -0.8, adafactor.eps2 = 1e-3, adafactor.d = 1.0;
    adafactor.eps1 = std::numeric_limits<float>::epsilon();  // torch's eps1=None: finfo(float32).eps
    H muon;
    muon.lr = 1e-3, muon.weight_decay = 0.1, muon.momentum = 0.95, muon.nesterov = true;
    muon.ns_a = 3.4445, muon.ns_b = -4.775, muon.ns_c = 2.0315, muon.eps = 1e-7, muon.ns_steps = 5;
    H lion;  // the paper's defaults (Chen et al. 2023): lr 1e-4, betas (0.9, 0.99), no decay
    lion.lr = 1e-4, lion.beta1 = 0.9, lion.beta2 = 0.99;
    // Schedule-Free: the schedulefree package's AdamWScheduleFree and SGDScheduleFree defaults.
    H sfadamw;
    sfadamw.lr = 0.0025, sfadamw.beta1 = 0.9, sfadamw.beta2 = 0.999, sfadamw.eps = 1e-8, sfadamw.weight_lr_power = 2;
    H sfsgd;
    sfsgd.lr = 1.0, sfsgd.momentum = 0.9, sfsgd.weight_lr_power = 2;
    const std::vector<KeyDef> sgd_keys = {lr, momentum, dampening, weight_decay, nesterov, maximize};
    const std::vector<KeyDef> adam_keys = {lr, beta1, beta2, eps, weight_decay, amsgrad, maximize};
    // 8-bit state (bitsandbytes' Adam8bit, AdamW8bit, SGD8bit, Lion8bit): the 32-bit rule and
    // defaults; no amsgrad (bitsandbytes has none in 8 bits); SGD with momentum only.
    const std::vector<KeyDef> adam8bit_keys = {lr, beta1, beta2, eps, weight_decay, maximize};
    H sgd8bit = sgd;
    sgd8bit.momentum = 0.9;
    return std::vector<OptimizerDef>{
        {"sgd", Algorithm::Sgd, sgd_keys, sgd, check_sgd},
        {"nag", Algorithm::Sgd, sgd_keys, nag, check_sgd},
        {"rmsprop", Algorithm::RmsProp, {lr, alpha, eps, weight_decay, momentum, centered, maximize}, rmsprop,
         check_rmsprop},
        {"adagrad",
         Algorithm::Adagrad,
         {lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize},
         adagrad,
         check_adagrad},
        {"adadelta", Algorithm::Adadelta, {lr, rho, eps, weight_decay, maximize}, adadelta, check_adadelta},
        {"adam", Algorithm::Adam, adam_keys, adam, check_betas},
        {"adamw", Algorithm::AdamW, adam_keys, adamw, check_betas},
        {"nadam",
         Algorithm::NAdam,
         {lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled, maximize},
         nadam,
         check_nadam},
        {"radam", Algorithm::RAdam, {lr, beta1, beta2, eps, weight_decay, decoupled, maximize}, adam, check_betas},
        {"adamax", Algorithm::Adamax, {lr, beta1, beta2, eps, weight_decay, maximize}, adamax, check_betas},
        {"asgd", Algorithm::Asgd, {lr, lambd, alpha, t0, weight_decay, maximize}, asgd, check_asgd},
        {"rprop",
         Algorithm::Rprop,
         {lr, eta_minus, eta_plus, step_size_min, step_size_max, maximize},
         rprop,
         check_rprop},
        {"adafactor",
         Algorithm::Adafactor,
         {lr, beta2_decay, eps1, eps2, d, weight_decay, maximize},
         adafactor,
         check_adafactor},
        {"muon",
         Algorithm::Muon,
         {lr, weight_decay, momentum, nesterov, ns_a, ns_b, ns_c, eps, ns_steps, adjust_lr_fn},
         muon,
         check_muon,
         true},
        {"lion", Algorithm::Lion, {lr, beta1, beta2, weight_decay, maximize}, lion, check_lion},
        {"adam8bit", Algorithm::Adam, adam8bit_keys, adam, check_betas, false, true},
        {"adamw8bit", Algorithm::AdamW, adam8bit_keys, adamw, check_betas, false, true},
        {"sgd8bit", Algorithm::Sgd, sgd_keys, sgd8bit, check_sgd8bit, false, true},
        {"lion8bit", Algorithm::Lion, {lr, beta1, beta2, weight_decay, maximize}, lion, check_lion, false, true},
        {"sfadamw",
         Algorithm::SfAdamW,
         {lr, beta1, beta2, eps, weight_decay, warmup_steps, r, weight_lr_power},
         sfadamw,
         check_sfadamw},
        {"sfsgd", Algorithm::SfSgd, {lr, momentum, weight_decay, warmup_steps, r, weight_lr_power}, sfsgd, check_sfsgd},
    };
  }();
  return defs;
}

const OptimizerDef& find_def(const std::string& name) {
  for (const OptimizerDef& def : optimizer_defs())
    if (name == def.name) return def;
  throw UsageError(__FILE__, __LINE__,
                   fmt::format("unknown optimizer '{}'; valid names: {}", printable(name),
                               optimizer_names_text()));
}

const KeyDef* find_key(const OptimizerDef& def, const std::string& key) {
  for (const KeyDef& k : def.keys)
    if (key == k.key) return &k;
  return nullptr;
}

MuonAdjustLr parse_adjust_lr(const std::string& value, const std::string& context) {
  for (int k = 0; k < 3; ++k)
    if (value == kAdjustLrNames[k]) return static_cast<MuonAdjustLr>(k);
  throw UsageError(__FILE__, __LINE__,
                   fmt::format("{}: '{}' is not one of {}", context, printable(value),
                               fmt::join(kAdjustLrNames, ", ")));
}

std::string key_value(const KeyDef& k, const H& hyper) {
  if (k.real) return format_number(hyper.*(k.real));
  if (k.flag) return hyper.*(k.flag) ? "true" : "false";
  return kAdjustLrNames[static_cast<int>(hyper.*(k.choice))];
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
    else if (key->flag)
      hyper.*(key->flag) = parse_bool(option.value, context);
    else
      hyper.*(key->choice) = parse_adjust_lr(option.value, context);
  }
  validate_hyperparameters(def.name, hyper);
}

// The parts of a spec: split at every '+' that is not the sign of an exponent ("1e+3").
std::vector<std::string> split_parts(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '+') continue;
    const bool exponent = i >= 2 && (text[i - 1] == 'e' || text[i - 1] == 'E') &&
                          (std::isdigit(static_cast<unsigned char>(text[i - 2])) || text[i - 2] == '.');
    if (exponent) continue;
    parts.push_back(text.substr(start, i - start));
    start = i + 1;
  }
  parts.push_back(text.substr(start));
  return parts;
}

PartSpec parse_part(const std::string& text, bool* capturable) {
  const SplitSpec split = split_spec(text, "optimizer spec");
  const OptimizerDef& def = find_def(split.name);
  PartSpec part;
  part.name = def.name;
  part.algorithm = def.algorithm;
  part.state8bit = def.state8bit;
  part.hyper = def.defaults;
  apply_options(def, part.hyper, capturable, split.options);
  return part;
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

std::vector<PartSpec> OptimizerSpec::parts() const {
  std::vector<PartSpec> out = {static_cast<const PartSpec&>(*this)};
  if (rest) out.push_back(*rest);
  return out;
}

const std::vector<std::string>& optimizer_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const OptimizerDef& def : optimizer_defs()) n.push_back(def.name);
    return n;
  }();
  return names;
}

std::string optimizer_names_text() { return fmt::format("{}", fmt::join(optimizer_names(), ", ")); }

std::vector<std::string> optimizer_keys(const std::string& name) {
  std::vector<std::string> keys;
  for (const KeyDef& k : find_def(name).keys) keys.push_back(k.key);
  keys.push_back(kCapturable);
  return keys;
}

Algorithm algorithm_of(const std::string& name) { return find_def(name).algorithm; }
Hyperparameters default_hyperparameters(const std::string& name) { return find_def(name).defaults; }
bool matrices_only(const std::string& name) { return find_def(name).matrices_only; }
bool state8bit(const std::string& name) { return find_def(name).state8bit; }

const char* algorithm_name(Algorithm algorithm) {
  if (algorithm == Algorithm::Sgd) return "sgd";  // not nag: the table lists sgd first anyway
  for (const OptimizerDef& def : optimizer_defs())
    if (def.algorithm == algorithm) return def.name;
  return "unknown";
}

void validate_hyperparameters(const std::string& name, const Hyperparameters& h) {
  const OptimizerDef& def = find_def(name);
  check_at_least(def.name, "lr", h.lr, 0);
  check_at_least(def.name, "weight_decay", h.weight_decay, 0);
  def.check(def.name, h);
}

OptimizerSpec parse_optimizer_spec(const std::string& text) {
  const std::vector<std::string> parts = split_parts(text);
  const auto malformed = [&](const std::string& why) {
    return UsageError(__FILE__, __LINE__,
                      fmt::format("optimizer spec '{}': {}; expected NAME[:key=value,...] or A+B (A for the hidden "
                                  "weights, B for the rest), NAME one of: {}",
                                  printable(text), why, optimizer_names_text()));
  };
  if (parts.size() > 2) throw malformed("more than two parts");
  for (const std::string& p : parts)
    if (trim(p).empty()) throw malformed(parts.size() > 1 ? "an empty part" : "empty");
  OptimizerSpec spec;
  static_cast<PartSpec&>(spec) = parse_part(parts[0], &spec.capturable);
  if (parts.size() == 2) {
    spec.rest = parse_part(parts[1], &spec.capturable);
    EMBER_USAGE_CHECK(!matrices_only(spec.rest->name),
                      "optimizer spec '{}': {} updates weight matrices only, so it can only be A in A+B",
                      printable(text), spec.rest->name);
  } else if (matrices_only(spec.name)) {
    spec.rest = parse_part("adamw", nullptr);  // torch.optim.Muon's advice: AdamW for the rest
  }
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
  for (size_t i = 0; i < def.keys.size(); ++i)
    text += fmt::format("{}{}={}", i ? "," : "", def.keys[i].key, key_value(def.keys[i], hyper));
  if (capturable) text += ",capturable=true";
  return text;
}

std::string format_optimizer_spec(const OptimizerSpec& spec) {
  std::string text = format_optimizer_spec(spec.name, spec.hyper, spec.capturable);
  if (spec.rest) text += "+" + format_optimizer_spec(spec.rest->name, spec.rest->hyper);
  return text;
}

nlohmann::json hyperparameters_to_json(const std::string& name, const Hyperparameters& hyper) {
  nlohmann::json json = nlohmann::json::object();
  for (const KeyDef& k : find_def(name).keys) {
    if (k.real)
      json[k.key] = hyper.*(k.real);
    else if (k.flag)
      json[k.key] = hyper.*(k.flag);
    else
      json[k.key] = key_value(k, hyper);
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
    } else if (k->flag) {
      EMBER_USAGE_CHECK(value.is_boolean(), "{} hyperparameter {}: expected a boolean, got {}", name, key,
                        value.dump());
      hyper.*(k->flag) = value.get<bool>();
    } else {
      EMBER_USAGE_CHECK(value.is_string(), "{} hyperparameter {}: expected a string, got {}", name, key, value.dump());
      hyper.*(k->choice) = parse_adjust_lr(value.get<std::string>(), fmt::format("{} hyperparameter {}", name, key));
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
