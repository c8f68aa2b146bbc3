#include "apps/compare/performance_profile.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace ember::compare {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool reached(double t) { return std::isfinite(t) && t > 0; }

}  // namespace

std::vector<std::vector<double>> performance_ratios(const std::vector<std::vector<double>>& times) {
  std::vector<std::vector<double>> ratios;
  for (const std::vector<double>& row : times) {
    EMBER_CHECK(row.size() == times.front().size(), "performance profile: workloads with {} and {} optimisers",
                row.size(), times.front().size());
    double best = kInf;
    for (double t : row)
      if (reached(t)) best = std::min(best, t);
    std::vector<double> r;
    for (double t : row) r.push_back(reached(t) && std::isfinite(best) ? t / best : kInf);
    ratios.push_back(std::move(r));
  }
  return ratios;
}

double profile_at(const std::vector<std::vector<double>>& ratios, size_t optimizer, double tau) {
  if (ratios.empty()) return 0;
  size_t within = 0;
  for (const std::vector<double>& row : ratios) within += row.at(optimizer) <= tau;
  return static_cast<double>(within) / static_cast<double>(ratios.size());
}

PerformanceProfile performance_profile(const std::vector<std::vector<double>>& times, double tau_max) {
  EMBER_CHECK(tau_max > 1, "performance profile: tau_max {} must be above 1", tau_max);
  const std::vector<std::vector<double>> ratios = performance_ratios(times);
  PerformanceProfile p;
  p.taus.push_back(1.0);
  for (const std::vector<double>& row : ratios)
    for (double r : row)
      if (r > 1 && r <= tau_max) p.taus.push_back(r);
  p.taus.push_back(tau_max);
  std::sort(p.taus.begin(), p.taus.end());
  p.taus.erase(std::unique(p.taus.begin(), p.taus.end()), p.taus.end());
  const size_t optimizers = times.empty() ? 0 : times.front().size();
  for (size_t s = 0; s < optimizers; ++s) {
    std::vector<double> f;
    for (double tau : p.taus) f.push_back(profile_at(ratios, s, tau));
    p.fraction.push_back(std::move(f));
  }
  return p;
}

}  // namespace ember::compare
