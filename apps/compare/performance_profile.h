// Dolan-More performance profiles (Dolan & More 2002, "Benchmarking optimization software with
// performance profiles"), as AlgoPerf aggregates its workloads: for optimiser s on workload w
// with time to target t[w][s], the ratio r = t[w][s] / min over optimisers of t[w][.], and the
// profile rho_s(tau) = the fraction of workloads with r <= tau. rho_s(1) is the fraction of
// workloads s wins; the height as tau grows is how often s is within a factor tau of the best.
// A run that never reached the target has r = Inf (it never counts); a workload no optimiser
// solved counts against every optimiser.
#pragma once

#include <string>
#include <vector>

namespace ember::compare {

// ratios[w][s]: t[w][s] / min_s t[w][s]; Inf where t is not finite and positive or where no
// optimiser reached the target on w. Every row must have the same length.
std::vector<std::vector<double>> performance_ratios(const std::vector<std::vector<double>>& times);

struct PerformanceProfile {
  std::vector<double> taus;                   // ascending, from 1: every ratio where a profile steps, then tau_max
  std::vector<std::vector<double>> fraction;  // fraction[s][k] = rho_s(taus[k])
};
// The profile of `times` (workloads x optimisers) at every step point up to tau_max (> 1;
// ratios beyond it are shown as never reached).
PerformanceProfile performance_profile(const std::vector<std::vector<double>>& times, double tau_max);

// rho_s(tau) over `ratios`.
double profile_at(const std::vector<std::vector<double>>& ratios, size_t optimizer, double tau);

}  // namespace ember::compare
