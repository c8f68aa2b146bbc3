// Grad mode: whether ops record autograd nodes. Per thread, like torch.no_grad().
#pragma once

namespace ember {

bool grad_mode_enabled();
void set_grad_mode(bool enabled);

// RAII: autograd recording off inside the scope (optimiser steps, evaluation, init).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_mode_enabled()) { set_grad_mode(false); }
  ~NoGradGuard() { set_grad_mode(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace ember
