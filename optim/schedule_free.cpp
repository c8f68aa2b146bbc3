// Optimizer::eval and train: the Schedule-Free optimisers' switch between y, where training
// takes gradients, and the average x, where the model is evaluated (Note [schedule-free
// sequences] in kernels/optim_rules.h). The parameters move in place, as the schedulefree
// package's optimizer.eval() and .train() move them: p = lerp(p, z, w) with torch's lerp, in
// float32, w = 1 - 1/beta1 to x and 1 - beta1 back (beta1: SGD's momentum).
#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "optim/optimizer.h"
#include "optim/optimizer_part.h"

namespace ember::optim {

namespace {

bool is_schedule_free(Algorithm a) { return a == Algorithm::SfAdamW || a == Algorithm::SfSgd; }

// p = torch_lerp(p, z, w) in float32 with core ops (any device): the same IEEE operations as
// kernels::torch_lerp<float>, one formula or the other by the weight.
void lerp_in_place(const Tensor& p, const Tensor& z, float w) {
  const Tensor d = sub(z, p);
  if (kernels::lerp_from_self(w))
    p.add_(d, w);  // p + w (z - p)
  else
    p.copy_(sub(z, d, double(1.0f - w)));  // z - (z - p)(1 - w)
}

}  // namespace

bool Optimizer::schedule_free() const {
  for (const auto& part : parts_)
    if (is_schedule_free(part->algorithm())) return true;
  return false;
}

void Optimizer::move_schedule_free_parameters(bool to_x) {
  // Before the first step z does not exist (the package creates it then): nothing moves.
  if (step_count() == 0) return;
  NoGradGuard no_grad;
  for (const auto& part : parts_) {
    if (!is_schedule_free(part->algorithm())) continue;
    for (size_t i = 0; i < part->entries().size(); ++i) {
      const FlatEntry& e = *part->entries()[i];
      if (e.numel == 0) continue;
      const Hyperparameters& h = part->groups[e.group];
      const double beta1 = part->algorithm() == Algorithm::SfSgd ? h.momentum : h.beta1;
      const Tensor value = flat_view(params_.values(), e.offset, e.param.sizes());
      const Tensor z = flat_view(part->state(0), part->view(0, i)->offset, e.param.sizes());
      lerp_in_place(value, z, float(kernels::schedulefree_mode_weight(beta1, to_x)));
    }
  }
}

void Optimizer::eval() {
  if (!train_mode_ || !schedule_free()) return;  // other optimisers have one mode
  move_schedule_free_parameters(true);
  train_mode_ = false;
}

void Optimizer::train() {
  if (train_mode_) return;
  move_schedule_free_parameters(false);
  train_mode_ = true;
}

}  // namespace ember::optim
