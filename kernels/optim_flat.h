// What one fused optimiser step works on: flat fp32 buffers (parameters, gradients, state)
// and a table of segments. Shared by the CUDA launcher (kernels/optim_step.h) and the CPU
// executor (optim/cpu_step.cpp); host-only types, no CUDA headers.
//
// Note [flat buffer alignment]
// Every parameter starts at an element offset that is a multiple of 4 (16 bytes) inside
// buffers whose base is at least 16-byte aligned (the CUDA pool hands out 256-byte granules,
// the CPU allocator 64-byte lines), so a segment's body can be read and written as float4.
// A segment is a run of parameters of one group that are laid out back to back (each ends
// where the next begins); padding after a parameter whose length is not a multiple of 4, and
// frozen parameters, lie between segments and are never read or written by a step.
#pragma once

#include <cstdint>

#include "kernels/optim_rules.h"

namespace ember::kernels {

struct OptimSegment {
  int64_t begin = 0;          // first element; begin % 4 == 0
  int64_t end = 0;            // one past the last element (any value > begin)
  int64_t first_granule = 0;  // 4-element granules in all earlier segments: spreads work evenly
  int64_t state_begin = 0;    // where element `begin`'s state lies in the state buffers (% 4 == 0)
  int32_t group = 0;          // parameter group: index into the hyperparameters
  int32_t reserved = 0;
  int64_t reserved2 = 0;
};
static_assert(sizeof(OptimSegment) == 48, "OptimSegment is uploaded as six int64 words (three 16-byte loads)");

// Granules (4 elements, the last one of a segment possibly shorter) of a segment.
inline int64_t segment_granules(const OptimSegment& s) { return (s.end - s.begin + 3) / 4; }

// One optimiser step over all segments.
struct FusedStepArgs {
  OptimAlgorithm algorithm = OptimAlgorithm::Sgd;
  unsigned state_slots = 0;  // bit k set: state[k] is a flat buffer of the state layout
  float* param = nullptr;
  const float* grad = nullptr;
  // State of parameter element i of segment s: state[k][i - s.begin + s.state_begin].
  float* state[kMaxOptimStates] = {nullptr, nullptr, nullptr};
  const OptimSegment* segments = nullptr;  // on the executor's device
  int num_segments = 0;
  int64_t num_granules = 0;  // sum of segment_granules over the table
  int num_groups = 0;
  OptimHyper hyper[kMaxOptimGroups];
  // Host mode: the 1-based number of this step; each group's lr is hyper[g].lr and its group
  // scalars before the step are scalars[g] (Note [group scalars]; the caller advances them).
  int64_t step = 0;
  OptimScalars scalars[kMaxOptimGroups];
  // Capturable mode (all set, on the executor's device): the step count, the learning rates
  // and the group scalars are read where the step runs, so that a captured CUDA graph replays
  // correctly. device_step[0] counts the steps taken so far; `completion` is this launch's
  // completion counter, zero between steps: the last block to finish writes the group scalars
  // after the step, resets it and, with advance_step, increments device_step[0].
  const double* device_lr = nullptr;  // [num_groups]
  unsigned long long* device_step = nullptr;
  unsigned long long* completion = nullptr;
  double* device_scalars = nullptr;  // [num_groups * kMaxOptimScalars]
  bool advance_step = true;
};

// Minimum bytes one step must move per parameter element: read param and grad, read and
// write param and every state slot.
inline int64_t fused_step_bytes_per_element(unsigned state_slots) {
  int64_t slots = 0;
  for (int k = 0; k < kMaxOptimStates; ++k) slots += (state_slots >> k) & 1u;
  return 4 * (3 + 2 * slots);
}

}  // namespace ember::kernels
