// Optimizer::eval and train: the Schedule-Free optimisers' switch between y, where training
// takes gradients, and the average x, where the model is evaluated (Note [schedule-free
// sequences] in kernels/optim_rules.h). The parameters move in place, as the schedulefree
// package's optimizer.eval() moves them: p = lerp(p, z, w) with torch's lerp, in float32,
// w = 1 - 1/beta1 (beta1: SGD's momentum). train() restores the y kept by eval() instead of
// the package's lerp back (w = 1 - beta1), so that a round trip - every evaluation and
// checkpoint of ember-train - leaves training exactly where it was. A sharded optimizer
// (ZeRO-1) moves only its shard's elements (the rule is element-wise) and keeps all of y, so
// that after Zero1Step::gather_parameters every rank holds x, and train() needs no gather.
#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "optim/optimizer.h"
#include "optim/optimizer_part.h"

namespace ember::optim {

namespace {

using kernels::is_schedule_free;

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

void Optimizer::move_to_average() {
  // Before the first step z does not exist (the package creates it then): nothing moves.
  if (step_count() == 0) return;
  NoGradGuard no_grad;
  saved_y_ = params_.values().clone();
  for (const auto& part : parts_) {
    if (!is_schedule_free(part->algorithm())) continue;
    for (size_t i = 0; i < part->entries().size(); ++i) {
      const Piece p = piece(*part, i, 0);  // slot 0: z; sharded: the shard's elements only
      if (p.value.numel() == 0) continue;
      const Hyperparameters& h = part->groups[part->entries()[i]->group];
      const double beta1 = part->algorithm() == Algorithm::SfSgd ? h.momentum : h.beta1;
      lerp_in_place(p.value, p.state, float(kernels::schedulefree_mode_weight(beta1, true)));
    }
  }
}

void Optimizer::eval() {
  if (!train_mode_ || !schedule_free()) return;  // other optimisers have one mode
  move_to_average();
  train_mode_ = false;
}

void Optimizer::train() {
  if (train_mode_) return;
  if (saved_y_.defined()) {
    NoGradGuard no_grad;
    params_.values().copy_(saved_y_);
    saved_y_ = Tensor();
  }
  train_mode_ = true;
}

}  // namespace ember::optim
