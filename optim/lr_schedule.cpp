#include "optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "optim/optimizer.h"

namespace ember::optim {

namespace {

constexpr double kPi = 3.14159265358979323846;

// torch OneCycleLR's _annealing_cos: from start (pct 0) to end (pct 1).
double annealing_cos(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (std::cos(kPi * pct) + 1);
}

// torch OneCycleLR.get_lr with three_phase=False and anneal_strategy='cos'.
double one_cycle(const LrSchedule& s, double max_lr, int64_t step, int64_t total_steps) {
  const double initial_lr = max_lr / s.div_factor;
  const double min_lr = initial_lr / s.final_div_factor;
  const double phase1_end = s.pct_start * double(total_steps) - 1;
  const double phase2_end = double(total_steps) - 1;
  const double t = double(step);
  // A phase of length zero (very short runs) counts as finished.
  if (t <= phase1_end) return annealing_cos(initial_lr, max_lr, phase1_end > 0 ? t / phase1_end : 1.0);
  const double span = phase2_end - phase1_end;
  return annealing_cos(max_lr, min_lr, span > 0 ? (t - phase1_end) / span : 1.0);
}

}  // namespace

double LrSchedule::lr(double base_lr, int64_t step, int64_t total_steps) const {
  EMBER_CHECK(step >= 0 && total_steps >= 1, "LR schedule: step {} of {} steps", step, total_steps);
  if (kind == ScheduleKind::OneCycle) return one_cycle(*this, base_lr, std::min(step, total_steps - 1), total_steps);
  if (step < warmup) return base_lr * double(step + 1) / double(warmup);
  const int64_t t = step - warmup;
  const int64_t span = std::max<int64_t>(1, total_steps - warmup);
  switch (kind) {
    case ScheduleKind::Constant: return base_lr;
    case ScheduleKind::Step: return base_lr * std::pow(gamma, double(t / step_size));
    case ScheduleKind::Cosine: {
      const double progress = std::min(1.0, double(t) / double(span));
      return eta_min + (base_lr - eta_min) * (1 + std::cos(kPi * progress)) / 2;
    }
    case ScheduleKind::OneCycle: break;
  }
  return base_lr;
}

void LrSchedule::apply(Optimizer& optimizer, const std::vector<double>& base_lrs, int64_t step,
                       int64_t total_steps) const {
  EMBER_CHECK(static_cast<int>(base_lrs.size()) == optimizer.num_groups(),
              "LR schedule: {} base learning rates for {} parameter groups", base_lrs.size(), optimizer.num_groups());
  for (int g = 0; g < optimizer.num_groups(); ++g) optimizer.set_lr(g, lr(base_lrs[g], step, total_steps));
}

}  // namespace ember::optim
