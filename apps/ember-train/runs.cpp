#include "apps/ember-train/runs.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"
#include "data/parse.h"
#include "kernels/philox.h"
#include "optim/spec.h"

namespace ember::train {

namespace {

double parse_positive(const std::string& text, const std::string& flag) {
  double v = 0;
  EMBER_USAGE_CHECK(data::parse_double(text, &v) && v > 0, "{}: '{}' is not a positive number", flag, text);
  return v;
}

// 1 to max_digits decimal digits.
bool is_count(const std::string& text, size_t max_digits) {
  return !text.empty() && text.size() <= max_digits && text.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

std::vector<double> parse_sweep(const std::string& text) {
  const std::string usage = "--sweep expects lr=A:B:N (N values log-spaced from A to B) or lr=v1,v2,...";
  EMBER_USAGE_CHECK(text.rfind("lr=", 0) == 0, "{}; got '{}' (only lr can be swept)", usage, text);
  const std::string body = text.substr(3);
  std::vector<double> values;
  if (body.find(':') != std::string::npos) {
    std::vector<std::string> parts;
    std::stringstream ss(body);
    for (std::string part; std::getline(ss, part, ':');) parts.push_back(part);
    EMBER_USAGE_CHECK(parts.size() == 3, "{}; got '{}'", usage, text);
    const double a = parse_positive(parts[0], "--sweep"), b = parse_positive(parts[1], "--sweep");
    EMBER_USAGE_CHECK(is_count(parts[2], 4) && std::stoi(parts[2]) >= 1,
                      "--sweep: the number of values must be an integer from 1 to 9999, got '{}'", parts[2]);
    const int n = std::stoi(parts[2]);
    for (int i = 0; i < n; ++i) {
      const double v = n == 1 ? a : std::exp(std::log(a) + (std::log(b) - std::log(a)) * i / (n - 1));
      values.push_back(std::stod(fmt::format("{:.6g}", v)));  // 1e-3, not 0.0010000000000000002
    }
  } else {
    std::stringstream ss(body);
    for (std::string part; std::getline(ss, part, ',');) values.push_back(parse_positive(part, "--sweep"));
    EMBER_USAGE_CHECK(!values.empty(), "{}; got '{}'", usage, text);
  }
  return values;
}

std::string with_lr(const std::string& spec, double lr) {
  const size_t colon = spec.find(':');
  std::string keys;
  if (colon != std::string::npos) {
    std::stringstream ss(spec.substr(colon + 1));
    for (std::string kv; std::getline(ss, kv, ',');) {
      std::string key = kv.substr(0, kv.find('='));
      key.erase(0, key.find_first_not_of(' '));
      key.erase(key.find_last_not_of(' ') + 1);
      if (key != "lr") keys += "," + kv;
    }
  }
  return fmt::format("{}:lr={:.6g}{}", spec.substr(0, colon), lr, keys);
}

std::vector<RunSpec> expand_runs(const std::vector<std::string>& specs, const std::vector<double>& sweep_lrs,
                                 int repeats, uint64_t seed) {
  EMBER_USAGE_CHECK(repeats >= 1, "--repeats must be at least 1, got {}", repeats);
  const double count = double(specs.size()) * double(std::max<size_t>(sweep_lrs.size(), 1)) * repeats;
  EMBER_USAGE_CHECK(count <= kMaxRuns, "{} optimiser(s) x {} lr(s) x {} repeat(s) is {:.0f} runs, more than {}",
                    specs.size(), std::max<size_t>(sweep_lrs.size(), 1), repeats, count, kMaxRuns);
  struct Variant {
    std::string spec;
    double lr;
    optim::OptimizerSpec parsed;
  };
  std::vector<RunSpec> runs;
  for (const std::string& base : specs) {
    const optim::OptimizerSpec parsed = optim::parse_optimizer_spec(base);  // usage errors here, also when sweeping
    std::vector<Variant> variants;
    if (sweep_lrs.empty()) variants.push_back({base, parsed.hyper.lr, parsed});
    for (double lr : sweep_lrs) {
      const std::string spec = with_lr(base, lr);
      variants.push_back({spec, lr, optim::parse_optimizer_spec(spec)});
    }
    for (const Variant& v : variants)
      for (int r = 0; r < repeats; ++r)
        runs.push_back({base, v.spec, v.spec, v.lr, !sweep_lrs.empty(), r, seed + static_cast<uint64_t>(r), v.parsed});
  }
  return runs;
}

Shift parse_shift(const std::string& text, int epochs) {
  if (text.empty()) return {};
  const size_t colon = text.find(':');
  const std::string epoch = text.substr(0, colon), kind = colon == std::string::npos ? "" : text.substr(colon + 1);
  EMBER_USAGE_CHECK(is_count(epoch, 6) && (kind == "labels" || kind == "classes"),
                    "--shift expects E:labels or E:classes (E: the first shifted epoch), got '{}'", text);
  Shift s;
  s.epoch = std::stoi(epoch);
  s.kind = kind == "labels" ? ShiftKind::Labels : ShiftKind::Classes;
  EMBER_USAGE_CHECK(s.epoch >= 2, "--shift {}: the shift epoch must be at least 2 (epoch 1 would train only shifted data)",
                    text);
  EMBER_USAGE_CHECK(s.epoch <= epochs, "--shift {}: epoch {} is beyond --epochs {}", text, s.epoch, epochs);
  return s;
}

const char* shift_name(ShiftKind kind) {
  switch (kind) {
    case ShiftKind::Labels: return "labels";
    case ShiftKind::Classes: return "classes";
    default: return "none";
  }
}

std::vector<int64_t> shift_permutation(uint64_t seed) {
  // Sattolo's algorithm: a uniformly random cyclic permutation, hence no fixed point.
  std::vector<int64_t> p(10);
  for (int64_t i = 0; i < 10; ++i) p[i] = i;
  for (int64_t i = 9, draw = 0; i > 0; --i, ++draw) {
    const kernels::PhiloxWords r = kernels::philox4x32_10(seed ^ 0x5348494654ull /* "SHIFT" */, draw);
    const int64_t j = static_cast<int64_t>(r.w[0] % static_cast<uint32_t>(i));  // j in [0, i)
    std::swap(p[i], p[j]);
  }
  return p;
}

}  // namespace ember::train
