// How an optimiser with 8-bit state (adam8bit, adamw8bit, sgd8bit, lion8bit) divides its
// parameters: those of at least kernels::kMin8bitNumel (4,096) elements keep 8-bit block-wise
// state, smaller ones float32 state (bitsandbytes' min_8bit_size rule). For summaries.
#pragma once

#include <cstdint>
#include <string>

#include "optim/optimizer.h"

namespace ember::optim {

struct State8bitCounts {
  int64_t quantised = 0;  // parameters with 8-bit state
  int64_t float32 = 0;    // parameters of a part with 8-bit state that keep float32 state
};

State8bitCounts state8bit_counts(const Optimizer& optimizer);
// "8-bit state for 21 parameters, float32 for 41 under 4096 elements", or "" without 8-bit state.
std::string describe_state8bit(const Optimizer& optimizer);

}  // namespace ember::optim
