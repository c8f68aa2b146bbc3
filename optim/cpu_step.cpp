// The CPU executor of the fused optimiser step: one pass over each segment of the flat
// buffers, calling the same per-element rule as the CUDA kernel (kernels/optim_rules.h).
// Threads split each large segment into contiguous chunks (small ones go whole to one thread)
// and each chunk is an `omp simd` loop (the rules are branch-free so that it vectorises: see
// kernels/optim_rules.h). This file is compiled with -fno-math-errno so that sqrt vectorises
// too (errno is never read) and with -ffp-contract=off so that no clone fuses a multiply and
// an add: the CPU step performs exactly the rule's IEEE operations, as the CUDA kernel does
// (Note [bit-identical steps]).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"
#include "core/cpu_clones.h"
#include "optim/cpu_known_flags.h"
#include "optim/step_executors.h"

namespace ember::optim::detail {

namespace {

using kernels::FusedStepArgs;
using kernels::OptimSegment;

constexpr int64_t kParallelGrain = 1 << 15;  // elements below which a loop stays on one thread

// Group g's scalars before this step: from the arguments, or from memory in capturable mode.
kernels::OptimScalars group_scalars(const FusedStepArgs& a, int g) {
  if (a.device_step == nullptr) return a.scalars[g];
  kernels::OptimScalars s;
  if (a.device_scalars == nullptr) return s;  // a rule without group scalars
  for (int k = 0; k < kernels::kMaxOptimScalars; ++k) s.v[k] = a.device_scalars[g * kernels::kMaxOptimScalars + k];
  return s;
}

// State pointers of one segment, shifted so that element i's state is s[k][i].
struct SegmentState {
  float* s[kernels::kMaxOptimStates];
};

// Elements [begin, end) of one segment, vectorised; with kFlags the step's flags are
// compile-time constants (Note [known flags] in optim/cpu_known_flags.h).
template <class Rule, unsigned kSlots, unsigned kFlags>
EMBER_CPU_CLONES void step_range(const typename Rule::template Step<float>& step, const FusedStepArgs& a,
                                 const SegmentState& state, int64_t begin, int64_t end) {
  float* __restrict__ param = a.param;
  const float* __restrict__ grad = a.grad;
  float* __restrict__ s0 = state.s[0];
  float* __restrict__ s1 = state.s[1];
  float* __restrict__ s2 = state.s[2];
  auto s = step;  // a local copy: visibly loop-invariant
  if constexpr (kFlags != kUnknownFlags) KnownFlags<Rule>::set(s, kFlags);
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) {
    // A missing slot is a zero the rule computes with and never uses.
    float x = 0.0f, y = 0.0f, z = 0.0f;
    if constexpr ((kSlots & 1u) != 0) x = s0[i];
    if constexpr ((kSlots & 2u) != 0) y = s1[i];
    if constexpr ((kSlots & 4u) != 0) z = s2[i];
    float p = param[i];
    Rule::apply(s, p, grad[i], x, y, z);
    param[i] = p;
    if constexpr ((kSlots & 1u) != 0) s0[i] = x;
    if constexpr ((kSlots & 2u) != 0) s1[i] = y;
    if constexpr ((kSlots & 4u) != 0) s2[i] = z;
  }
}

// step_range with the step's flags known at compile time where they are a common setting,
// else the generic loop.
template <class Rule, unsigned kSlots, size_t... I>
void step_range_of_flags(const typename Rule::template Step<float>& step, const FusedStepArgs& a,
                      const SegmentState& state, int64_t begin, int64_t end, std::index_sequence<I...>) {
  using Known = KnownFlags<Rule>;
  [[maybe_unused]] const unsigned flags = Known::of(step);  // unused where no setting is known
  const bool common = ((flags == Known::kCommon[I] &&
                        (step_range<Rule, kSlots, Known::kCommon[I]>(step, a, state, begin, end), true)) ||
                       ...);
  if (!common) step_range<Rule, kSlots, kUnknownFlags>(step, a, state, begin, end);
}

template <class Rule, unsigned kSlots>
void step_range_known(const typename Rule::template Step<float>& step, const FusedStepArgs& a,
                      const SegmentState& state, int64_t begin, int64_t end) {
  step_range_of_flags<Rule, kSlots>(step, a, state, begin, end,
                                    std::make_index_sequence<KnownFlags<Rule>::kCommon.size()>{});
}

// Segment seg's state pointers, shifted so that element i's state is s[k][i].
template <unsigned kSlots>
SegmentState segment_state(const FusedStepArgs& a, const OptimSegment& seg) {
  SegmentState state{};
  for (int k = 0; k < kernels::kMaxOptimStates; ++k)
    if ((kSlots >> k) & 1u) state.s[k] = a.state[k] + (seg.state_begin - seg.begin);
  return state;
}

// Every segment in one parallel region (one fork and join per step, not one per segment:
// ResNet-18 has 62). Each thread takes one contiguous chunk of every large segment (a multiple
// of 16 elements, 64 bytes; segments start on 4-element boundaries, so neighbouring chunks may
// share one cache line: a little false sharing, never a race); small segments go whole to one
// thread each, in turn. Segments are disjoint, so no thread waits for another between them.
template <class Rule, unsigned kSlots>
void step_segments(const std::vector<typename Rule::template Step<float>>& steps, const FusedStepArgs& a) {
  int64_t total = 0;
  for (int s = 0; s < a.num_segments; ++s) total += a.segments[s].end - a.segments[s].begin;
#pragma omp parallel num_threads(num_threads()) if (total > kParallelGrain)
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t small = 0;  // small segments so far: the next goes to thread small % threads
    for (int s = 0; s < a.num_segments; ++s) {
      const OptimSegment& seg = a.segments[s];
      const auto& step = steps[static_cast<size_t>(seg.group)];
      const int64_t n = seg.end - seg.begin;
      if (n <= kParallelGrain) {
        if (small++ % threads == t)
          step_range_known<Rule, kSlots>(step, a, segment_state<kSlots>(a, seg), seg.begin, seg.end);
        continue;
      }
      const int64_t chunk = ((n + threads - 1) / threads + 15) / 16 * 16;
      const int64_t begin = seg.begin + std::min(n, t * chunk), end = seg.begin + std::min(n, (t + 1) * chunk);
      step_range_known<Rule, kSlots>(step, a, segment_state<kSlots>(a, seg), begin, end);
    }
  }
}

}  // namespace

void cpu_fused_step(const FusedStepArgs& a) {
  EMBER_CHECK(a.num_groups >= 1 && a.num_groups <= kernels::kMaxOptimGroups, "optimizer step: {} groups", a.num_groups);
  const bool capturable = a.device_step != nullptr;
  const int64_t step = capturable ? static_cast<int64_t>(a.device_step[0]) + 1 : a.step;
  EMBER_CHECK(step >= 1, "optimizer step: step number {}", step);
  const bool known = kernels::dispatch_optim_rule(a.algorithm, a.state_slots, [&](auto rule, auto slots) {
    using Rule = decltype(rule);
    std::vector<typename Rule::template Step<float>> steps;
    for (int g = 0; g < a.num_groups; ++g) {
      const double lr = capturable ? a.device_lr[g] : a.hyper[g].lr;
      steps.push_back(Rule::template make_step<float>(a.hyper[g], step, lr, group_scalars(a, g)));
    }
    step_segments<Rule, decltype(slots)::value>(steps, a);
    if (!capturable || a.device_scalars == nullptr) return;
    for (int g = 0; g < a.num_groups; ++g) {
      const kernels::OptimScalars after = Rule::next_scalars(a.hyper[g], step, a.device_lr[g], group_scalars(a, g));
      for (int k = 0; k < kernels::kMaxOptimScalars; ++k)
        a.device_scalars[g * kernels::kMaxOptimScalars + k] = after.v[k];
    }
  });
  EMBER_CHECK(known, "optimizer step: state slots {:#x} are not a layout of this optimizer", a.state_slots);
  if (capturable && a.advance_step) a.device_step[0] += 1;
}

float cpu_grad_norm(const float* grad, int64_t n) {
  // Per-thread partial sums added in thread order: the same result for the same thread count.
  std::vector<double> partial(static_cast<size_t>(num_threads()), 0.0);
#pragma omp parallel num_threads(num_threads()) if (n > kParallelGrain)
  {
    double acc = 0;
#pragma omp for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) acc += double(grad[i]) * double(grad[i]);
    partial[static_cast<size_t>(omp_get_thread_num())] = acc;
  }
  double total = 0;
  for (double p : partial) total += p;
  return static_cast<float>(std::sqrt(total));
}

void cpu_clip_by_norm(float* grad, int64_t n, float norm, float max_norm) {
  const float coef = max_norm / (norm + 1e-6f);
  const float scale = coef > 1.0f ? 1.0f : coef;  // NaN stays NaN, as torch.clamp's
#pragma omp parallel for simd num_threads(num_threads()) schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) grad[i] *= scale;
}

}  // namespace ember::optim::detail
