#include "apps/ember-train/workload_times.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ember::train {

std::vector<double> optimizer_times(const std::vector<RunTime>& runs, const std::vector<std::string>& bases) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> times;
  for (const std::string& base : bases) {
    double best = kInf;
    std::vector<std::string> groups;
    for (const RunTime& r : runs)
      if (r.base == base && std::find(groups.begin(), groups.end(), r.group) == groups.end()) groups.push_back(r.group);
    for (const std::string& group : groups) {
      double sum = 0;
      int n = 0;
      for (const RunTime& r : runs)
        if (r.base == base && r.group == group) sum += std::isfinite(r.time) ? r.time : kInf, ++n;
      best = std::min(best, sum / n);  // Inf when any repeat missed
    }
    times.push_back(best);
  }
  return times;
}

}  // namespace ember::train
