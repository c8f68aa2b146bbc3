#include "apps/compare/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "core/error.h"
#include "kernels/philox.h"

namespace ember::compare {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> finite(const std::vector<double>& values) {
  std::vector<double> out;
  for (double v : values)
    if (std::isfinite(v)) out.push_back(v);
  return out;
}

// Mean, sd and the percentile interval of the bootstrap means of `values` (all finite).
Estimate bootstrap(const std::vector<double>& values, const BootstrapOptions& options) {
  Estimate e;
  e.n = static_cast<int>(values.size());
  e.low = e.high = kNaN;
  if (values.empty()) {
    e.mean = e.sd = kNaN;
    return e;
  }
  double sum = 0;
  for (double v : values) sum += v;
  e.mean = sum / e.n;
  double ss = 0;
  for (double v : values) ss += (v - e.mean) * (v - e.mean);
  e.sd = e.n > 1 ? std::sqrt(ss / (e.n - 1)) : 0.0;
  if (e.n < 2) return e;
  EMBER_CHECK(options.resamples >= 1 && options.level > 0 && options.level < 1,
              "bootstrap: {} resamples at level {} (need >= 1 and 0 < level < 1)", options.resamples, options.level);
  std::vector<double> means(static_cast<size_t>(options.resamples));
  for (int64_t b = 0; b < options.resamples; ++b) {
    double s = 0;
    for (int64_t i = 0; i < e.n; ++i) s += values[bootstrap_index(options.seed, b, i, e.n)];
    means[b] = s / e.n;
  }
  e.low = quantile(means, (1 - options.level) / 2);
  e.high = quantile(std::move(means), (1 + options.level) / 2);
  return e;
}

}  // namespace

int64_t bootstrap_index(uint64_t seed, int64_t resample, int64_t draw, int64_t n) {
  const uint64_t counter = static_cast<uint64_t>(resample) * static_cast<uint64_t>(n) + static_cast<uint64_t>(draw);
  const uint32_t word = kernels::philox4x32_10(seed, counter).w[0];
  return static_cast<int64_t>((static_cast<uint64_t>(word) * static_cast<uint64_t>(n)) >> 32);  // [0, n)
}

double quantile(std::vector<double> values, double q) {
  EMBER_CHECK(!values.empty() && q >= 0 && q <= 1, "quantile {} of {} values", q, values.size());
  std::sort(values.begin(), values.end());
  const double h = q * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (h - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

Estimate estimate(const std::vector<double>& values, const BootstrapOptions& options) {
  return bootstrap(finite(values), options);
}

Estimate difference(const std::vector<double>& a, const std::vector<double>& b, const BootstrapOptions& options) {
  if (a.size() == b.size()) {  // paired by repeat
    std::vector<double> d;
    for (size_t i = 0; i < a.size(); ++i)
      if (std::isfinite(a[i]) && std::isfinite(b[i])) d.push_back(a[i] - b[i]);
    return bootstrap(d, options);
  }
  const std::vector<double> fa = finite(a), fb = finite(b);
  const Estimate ea = bootstrap(fa, options);
  BootstrapOptions other = options;
  other.seed = options.seed ^ 0x5345434F4E44ull;  // "SECOND": b's resamples independent of a's
  const Estimate eb = bootstrap(fb, other);
  Estimate e;
  e.n = std::min(ea.n, eb.n);
  e.mean = ea.mean - eb.mean;
  e.sd = std::sqrt(ea.sd * ea.sd + eb.sd * eb.sd);
  e.low = e.high = kNaN;
  if (e.n < 2) return e;
  std::vector<double> diffs(static_cast<size_t>(options.resamples));
  for (int64_t r = 0; r < options.resamples; ++r) {
    double sa = 0, sb = 0;
    for (int64_t i = 0; i < ea.n; ++i) sa += fa[bootstrap_index(options.seed, r, i, ea.n)];
    for (int64_t i = 0; i < eb.n; ++i) sb += fb[bootstrap_index(other.seed, r, i, eb.n)];
    diffs[r] = sa / ea.n - sb / eb.n;
  }
  e.low = quantile(diffs, (1 - options.level) / 2);
  e.high = quantile(std::move(diffs), (1 + options.level) / 2);
  return e;
}

bool is_clear(const Estimate& d) { return d.has_interval() && (d.low > 0 || d.high < 0); }

std::string verdict(const std::string& a, const std::string& b, const Estimate& d, const Quantity& q, double level) {
  const std::string head = fmt::format("{} vs {}: ", a, b);
  if (d.n == 0 || !std::isfinite(d.mean)) return head + "no runs to compare";
  auto number = [&](double v, bool sign) {
    return sign ? fmt::format("{:+.{}f}", v * q.scale, q.decimals) : fmt::format("{:.{}f}", v * q.scale, q.decimals);
  };
  const std::string diff = number(d.mean, true) + " " + q.unit;
  if (!d.has_interval()) return head + diff + fmt::format(" ({} run each, no interval: use --repeats)", d.n);
  const std::string interval = fmt::format("[{}, {}]", number(d.low, false), number(d.high, false));
  if (is_clear(d)) return head + diff + " " + interval;
  return head + fmt::format("no clear difference at {:g}% ({} {})", level * 100, diff, interval);
}

}  // namespace ember::compare
