// The fused optimiser step: ONE kernel launch updates every parameter of every segment of
// the flat buffers with the optimiser's per-element rule (kernels/optim_rules.h, the same
// function the CPU executor in optim/cpu_step.cpp calls).
//
// Layout (Note [flat buffer alignment] in kernels/optim_flat.h): segments start at multiples
// of 4 elements, so each thread moves whole float4 granules of param, grad and every state
// slot; the last granule of a segment may be short and is done element by element.
// Work split: the granules of all segments are numbered globally (OptimSegment::first_granule)
// and granule G belongs to thread G mod (grid threads), a grid-stride loop that runs across
// segment boundaries, so consecutive threads touch consecutive addresses and every thread
// gets the same share whatever the segment sizes.
// Per-step scalars (bias corrections, 1 - beta, the Adagrad lr decay, NAdam's mu, RAdam's
// rectification, ASGD's eta and mu) are computed once per step on the host and passed per
// group as kernel arguments; in capturable mode each block computes them from the step count,
// learning rates and group scalars in device memory instead (Note [capturable step]).
// State: a segment's state starts at its state_begin, so a hybrid's part keeps compact state
// buffers that cover only its own parameters.
// Reference: torch.optim's single-tensor algorithms (see kernels/optim_rules.h).
// Bytes: at least fused_step_bytes_per_element(slots) per parameter (Adam: 28, SGD with
// momentum: 20, plain SGD: 12); the kernel moves exactly that and is bandwidth-bound.
#include <cstdint>

#include "kernels/launch.cuh"
#include "kernels/optim_step.h"

namespace ember::kernels {

namespace {

template <class Rule>
struct StepKernelArgs {
  using Step = typename Rule::template Step<float>;
  float* param;
  const float* grad;
  float* state[kMaxOptimStates];
  const OptimSegment* segments;
  int num_segments;
  int num_groups;
  Step step[kMaxOptimGroups];         // host mode: this step's scalars per group
  OptimHyper hyper[kMaxOptimGroups];  // capturable mode: what the scalars are made from
  const double* device_lr;
  unsigned long long* device_step;
  unsigned long long* completion;
  double* device_scalars;  // capturable mode, rules with group scalars only
  bool advance_step;
};

// Updates elements [i, i + count) (count <= 4) with their state slots at [si, si + count).
template <class Rule, unsigned kSlots, int kCount>
__device__ __forceinline__ void update_elements(const typename Rule::template Step<float>& s,
                                                const StepKernelArgs<Rule>& a, int64_t i, int64_t si) {
  float p[4], g[4], st[kMaxOptimStates][4] = {};
  if constexpr (kCount == 4) {
    const float4 pv = *reinterpret_cast<const float4*>(a.param + i);
    const float4 gv = __ldg(reinterpret_cast<const float4*>(a.grad + i));
    p[0] = pv.x, p[1] = pv.y, p[2] = pv.z, p[3] = pv.w;
    g[0] = gv.x, g[1] = gv.y, g[2] = gv.z, g[3] = gv.w;
#pragma unroll
    for (int k = 0; k < kMaxOptimStates; ++k) {
      if ((kSlots >> k) & 1u) {
        const float4 v = *reinterpret_cast<const float4*>(a.state[k] + si);
        st[k][0] = v.x, st[k][1] = v.y, st[k][2] = v.z, st[k][3] = v.w;
      }
    }
  } else {
    p[0] = a.param[i];
    g[0] = a.grad[i];
#pragma unroll
    for (int k = 0; k < kMaxOptimStates; ++k)
      if ((kSlots >> k) & 1u) st[k][0] = a.state[k][si];
  }
  constexpr int kLanes = kCount == 4 ? 4 : 1;
#pragma unroll
  for (int e = 0; e < kLanes; ++e) Rule::apply(s, p[e], g[e], st[0][e], st[1][e], st[2][e]);
  if constexpr (kCount == 4) {
    *reinterpret_cast<float4*>(a.param + i) = make_float4(p[0], p[1], p[2], p[3]);
#pragma unroll
    for (int k = 0; k < kMaxOptimStates; ++k)
      if ((kSlots >> k) & 1u)
        *reinterpret_cast<float4*>(a.state[k] + si) = make_float4(st[k][0], st[k][1], st[k][2], st[k][3]);
  } else {
    a.param[i] = p[0];
#pragma unroll
    for (int k = 0; k < kMaxOptimStates; ++k)
      if ((kSlots >> k) & 1u) a.state[k][si] = st[k][0];
  }
}

// The segment table is read by every thread: through the read-only cache.
__device__ __forceinline__ OptimSegment load_segment(const OptimSegment* p) {
  const longlong2 w0 = __ldg(reinterpret_cast<const longlong2*>(p));
  const longlong2 w1 = __ldg(reinterpret_cast<const longlong2*>(p) + 1);
  const longlong2 w2 = __ldg(reinterpret_cast<const longlong2*>(p) + 2);
  OptimSegment s;
  s.begin = w0.x;
  s.end = w0.y;
  s.first_granule = w1.x;
  s.state_begin = w1.y;
  s.group = static_cast<int32_t>(w2.x & 0xffffffff);  // little-endian: group is the low word
  return s;
}

// Note [capturable step]
// In capturable mode nothing about the step is decided on the host: block threads < groups
// read the step count, lr and group scalars from device memory and make the group's scalars
// in shared memory, and the last block to finish writes the group scalars after the step and
// (advance_step) increments the count; a completion counter picks it: every block has read
// the count and the scalars before it adds to the counter, so the writes cannot be seen by a
// block of this step. A CUDA graph that captured the launch therefore replays step after
// step with the right bias corrections and the current learning rates.
// At least 4 resident blocks (1024 threads, <= 64 registers) per SM: each thread keeps up to
// five float4 loads in flight, which is far more than HBM needs to stay busy, and ptxas
// fits every rule in 64 registers without spilling.
template <class Rule, unsigned kSlots>
__global__ void __launch_bounds__(kBlock, 4) fused_step_kernel(const StepKernelArgs<Rule> a) {
  using Step = typename Rule::template Step<float>;
  __shared__ Step steps[kMaxOptimGroups];
  __shared__ OptimScalars before[kMaxOptimGroups];
  const bool capturable = a.device_step != nullptr;
  const int64_t step_number = capturable ? int64_t(a.device_step[0]) + 1 : 0;
  if (int(threadIdx.x) < a.num_groups) {
    const int g = int(threadIdx.x);
    if (capturable) {
      for (int k = 0; k < kMaxOptimScalars; ++k)
        before[g].v[k] = a.device_scalars != nullptr ? a.device_scalars[g * kMaxOptimScalars + k] : 0.0;
      steps[g] = Rule::template make_step<float>(a.hyper[g], step_number, a.device_lr[g], before[g]);
    } else {
      steps[g] = a.step[g];
    }
  }
  __syncthreads();

  const int64_t thread = global_thread(), threads = grid_stride();
  for (int s = 0; s < a.num_segments; ++s) {
    const OptimSegment seg = load_segment(a.segments + s);
    const Step& step = steps[seg.group];
    const int64_t n = seg.end - seg.begin, granules = (n + 3) / 4, to_state = seg.state_begin - seg.begin;
    // The first local granule j with (seg.first_granule + j) % threads == thread.
    int64_t j = (thread - seg.first_granule % threads + threads) % threads;
    for (; j < granules; j += threads) {
      const int64_t i = seg.begin + 4 * j;
      if (4 * j + 4 <= n) {
        update_elements<Rule, kSlots, 4>(step, a, i, i + to_state);
      } else {
        for (int64_t e = i; e < seg.end; ++e) update_elements<Rule, kSlots, 1>(step, a, e, e + to_state);
      }
    }
  }

  if (capturable) {
    __shared__ bool last_block;
    __syncthreads();
    if (threadIdx.x == 0) last_block = atomicAdd(a.completion, 1ull) == gridDim.x - 1;
    __syncthreads();
    if (!last_block) return;
    if (a.device_scalars != nullptr && int(threadIdx.x) < a.num_groups) {
      const int g = int(threadIdx.x);
      const OptimScalars after = Rule::next_scalars(a.hyper[g], step_number, a.device_lr[g], before[g]);
      for (int k = 0; k < kMaxOptimScalars; ++k) a.device_scalars[g * kMaxOptimScalars + k] = after.v[k];
    }
    if (threadIdx.x == 0) {
      if (a.advance_step) a.device_step[0] += 1;
      *a.completion = 0;
    }
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

cudaError_t launch_fused_step(const FusedStepArgs& args, cudaStream_t stream) {
  const bool capturable = args.device_step != nullptr;
  if (args.num_groups < 1 || args.num_groups > kMaxOptimGroups || args.num_segments < 0 ||
      (capturable && (args.device_lr == nullptr || args.completion == nullptr)) ||
      (!capturable && args.step < 1))
    return cudaErrorInvalidValue;
  // Nothing to update and no step count to advance: no launch at all.
  if (args.num_granules == 0 && !capturable) return cudaSuccess;
  if (!aligned16(args.param) || !aligned16(args.grad)) return cudaErrorMisalignedAddress;
  for (int k = 0; k < kMaxOptimStates; ++k)
    if (((args.state_slots >> k) & 1u) && (args.state[k] == nullptr || !aligned16(args.state[k])))
      return cudaErrorMisalignedAddress;

  cudaError_t result = cudaErrorInvalidValue;  // stays so for a slot set no optimiser uses
  dispatch_optim_rule(args.algorithm, args.state_slots, [&](auto rule, auto slots) {
    using Rule = decltype(rule);
    if (capturable && Rule::kScalarNames[0] != nullptr && args.device_scalars == nullptr) return;  // invalid
    StepKernelArgs<Rule> a{};
    a.param = args.param;
    a.grad = args.grad;
    for (int k = 0; k < kMaxOptimStates; ++k) a.state[k] = args.state[k];
    a.segments = args.segments;
    a.num_segments = args.num_segments;
    a.num_groups = args.num_groups;
    for (int g = 0; g < args.num_groups; ++g) {
      a.hyper[g] = args.hyper[g];
      if (!capturable)
        a.step[g] = Rule::template make_step<float>(args.hyper[g], args.step, args.hyper[g].lr, args.scalars[g]);
    }
    a.device_lr = args.device_lr;
    a.device_step = args.device_step;
    a.completion = args.completion;
    a.device_scalars = args.device_scalars;
    a.advance_step = args.advance_step;
    auto kernel = fused_step_kernel<Rule, decltype(slots)::value>;
    // One wave of resident blocks: a grid-stride loop needs no more, and a partial second
    // wave would leave SMs idle at the end.
    static const int blocks_per_sm = [&] {
      int blocks = 0;
      if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, kBlock, 0) != cudaSuccess) cudaGetLastError();
      return blocks > 0 ? blocks : 1;  // a failed query is cleared, not left for the launch check
    }();
    const int64_t needed = (args.num_granules + kBlock - 1) / kBlock;
    const int64_t resident = int64_t(multiprocessor_count()) * blocks_per_sm;
    const int grid = static_cast<int>(needed < 1 ? 1 : (needed < resident ? needed : resident));
    kernel<<<grid, kBlock, 0, stream>>>(a);
    result = cudaGetLastError();
  });
  return result;
}

}  // namespace ember::kernels
