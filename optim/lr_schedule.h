// Learning-rate schedules: small value objects that give the learning rate of optimiser step
// `step` (0-based: the lr used by the step-th call of step()) out of `total_steps`, from a
// parameter group's base learning rate. Parsed from spec strings by optim/spec.h.
//
//   constant                 lr = base
//   step                     lr = base * gamma^floor(t / step_size)        (torch StepLR)
//   cosine                   lr = eta_min + (base - eta_min) (1 + cos(pi t / T)) / 2,
//                            T = total - warmup                            (torch CosineAnnealingLR)
//   onecycle                 torch OneCycleLR (cos annealing, two phases): from base/div_factor
//                            up to base over the first pct_start of the steps, then down to
//                            base/(div_factor * final_div_factor); base is torch's max_lr
// constant, step and cosine take `warmup=N`: over the first N steps the lr rises linearly,
// lr = base * (t + 1) / N, and the schedule proper then runs over the remaining steps.
#pragma once

#include <cstdint>
#include <vector>

namespace ember::optim {

class Optimizer;

enum class ScheduleKind { Constant, Step, Cosine, OneCycle };

struct LrSchedule {
  ScheduleKind kind = ScheduleKind::Constant;
  int64_t warmup = 0;             // constant, step, cosine
  int64_t step_size = 1;          // step
  double gamma = 0.1;             // step
  double eta_min = 0;             // cosine: the final lr (absolute, as torch's)
  double pct_start = 0.3;         // onecycle
  double div_factor = 25;         // onecycle
  double final_div_factor = 1e4;  // onecycle

  double lr(double base_lr, int64_t step, int64_t total_steps) const;
  // Sets each group g of `optimizer` to lr(base_lrs[g], step, total_steps).
  void apply(Optimizer& optimizer, const std::vector<double>& base_lrs, int64_t step, int64_t total_steps) const;
};

}  // namespace ember::optim
