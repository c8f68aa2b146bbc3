// 8-bit block-wise optimiser state (Dettmers et al. 2022, "8-bit Optimizers via Block-wise
// Quantization", as bitsandbytes does it): each state slot of a parameter is stored as one
// byte per element, an index into a 256-entry dynamic (tree) quantisation map, and one
// float32 absmax per block of 256 elements. A step dequantises a block (map[q] * absmax),
// updates every element with the SAME per-element rule as the 32-bit optimiser
// (kernels/optim_rules.h), takes the block's new absmax and requantises (nearest map entry of
// value / absmax). The CUDA kernel (kernels/optim_blockwise8.cu) runs one thread block per
// 256-element block, the CPU executor (optim/cpu_blockwise8.cpp) one OpenMP iteration; both
// call the functions below.
//
// Note [8-bit quantiser]
// ember quantises to the NEAREST map entry (ties to the lower index), as bitsandbytes' CUDA
// kernels do, and, as they do for the first state (kOptimizerStatic8bit2StateBlockwise), keeps
// the sign of a signed state: a value whose nearest entry has the other sign (or is 0, for a
// negative value) takes the next entry toward its own sign, so a momentum never flips or, when
// negative, vanishes (ember treats -0 as 0 where bitsandbytes' signbit would not). The
// update itself uses the new state before requantisation, as bitsandbytes' kernels do.
// A second moment below 1.6e-7 of its block's absmax is stored as 0: with a zero gradient
// the next step then divides the momentum by eps alone - a property of the 8-bit state.
// bitsandbytes 0.50's CPU quantiser (csrc/common.cpp, quantize_block) searches
// with BinSearch's approximate Direct2 table and then compares two neighbours only: on the
// dynamic map, whose entries near zero are 1e-7 apart, it often lands several entries away
// (in a test of 10,247 values, 3,100 of the signed and 3,735 of the unsigned indices were not
// the nearest; 3.4e-7 stored as 2.1e-5). ember does not copy that; its tests compare with a
// float64 transcription of dequantise-update-requantise (tests/optim/test_blockwise8.cpp) and
// check bitsandbytes' trajectories only within a stated bound.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/hd.h"
#include "kernels/optim_rules.h"

namespace ember::kernels {

constexpr int kQuantBlock = 256;          // elements per block (one absmax each)
constexpr int kQuantMapSize = 256;        // entries of a map (8 bits)
constexpr int64_t kMin8bitNumel = 4096;   // smaller parameters keep 32-bit state (bitsandbytes' min_8bit_size)

// The dynamic map of bitsandbytes' create_dynamic_map(signed, max_exponent_bits=7,
// total_bits=8), computed in double and rounded to float32, sorted ascending. Exponent
// i = 0..6 contributes the midpoints of linspace(0.1, 1, n_i + 1) times 10^(i - 6), with
// n_i = 2^i (signed, each also negated) or 2^(i+1) (unsigned); then 0 and 1. 256 entries.
// (bitsandbytes computes the same in float32 arithmetic: its entries differ from these by at
// most one float32 ulp, checked in the tests.)
inline void dynamic_quant_map(bool is_signed, float out[kQuantMapSize]) {
  double values[kQuantMapSize];
  int n = 0;
  for (int i = 0; i < 7; ++i) {
    const int items = is_signed ? (1 << i) : (1 << (i + 1));
    const double scale = std::pow(10.0, i - 6);
    for (int j = 0; j < items; ++j) {
      const double lo = 0.1 + 0.9 * j / items, hi = 0.1 + 0.9 * (j + 1) / items;
      const double mean = (lo + hi) / 2.0;
      values[n++] = scale * mean;
      if (is_signed) values[n++] = -scale * mean;
    }
  }
  values[n++] = 0.0;
  values[n++] = 1.0;
  // Insertion sort: 256 values, once per optimiser.
  for (int a = 1; a < n; ++a)
    for (int b = a; b > 0 && values[b - 1] > values[b]; --b) {
      const double t = values[b];
      values[b] = values[b - 1];
      values[b - 1] = t;
    }
  for (int k = 0; k < kQuantMapSize; ++k) out[k] = static_cast<float>(values[k]);
}

// Which map a state slot uses: the unsigned one for a second moment (Adam's exp_avg_sq, never
// negative), the signed one otherwise (momenta).
EMBER_HD bool quant_slot_unsigned(OptimAlgorithm algorithm, int slot) {
  return (algorithm == OptimAlgorithm::Adam || algorithm == OptimAlgorithm::AdamW) && slot == 1;
}

// The value a stored byte stands for.
EMBER_HD float dequantise8(const float* map, uint8_t q, float absmax) { return map[q] * absmax; }

// The index of the map entry nearest to value / absmax (ties: the lower index), moved one
// entry toward the value's sign where a signed map's nearest entry has the other sign (Note
// [8-bit quantiser]); a block whose absmax is 0 holds zeros (the entry nearest 0). NaN gives
// index 0.
EMBER_HD uint8_t quantise8(const float* map, float value, float absmax) {
  const float x = absmax > 0.0f ? value / absmax : 0.0f;
  int lo = 0;  // the last entry <= x (0 if none)
  for (int step = kQuantMapSize / 2; step > 0; step /= 2)
    if (map[lo + step] <= x) lo += step;
  using std::fabs;
  if (lo < kQuantMapSize - 1 && fabs(x - map[lo + 1]) < fabs(x - map[lo])) lo += 1;
  const bool is_signed = map[0] < 0.0f;
  if (is_signed && x > 0.0f && map[lo] < 0.0f) lo += 1;
  if (is_signed && x < 0.0f && map[lo] >= 0.0f && lo > 0) lo -= 1;
  return static_cast<uint8_t>(lo);
}

// The larger of two absolute maxima; NaN wins (a NaN state stays visible, as in 32 bits).
EMBER_HD float absmax_combine(float a, float b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}

// One block of one parameter: `count` elements from `begin` of the flat parameters; its
// 8-bit state starts at byte `block * kQuantBlock` of each slot's byte buffer and its absmax
// is absmax[slot][block].
struct Quant8Block {
  int64_t begin = 0;
  int32_t count = 0;
  int32_t group = 0;
};

// One step of the 8-bit part over its blocks (host-only type; the pointers are on the
// executor's device). Host mode only: the step number and lrs come from the host.
struct Blockwise8Args {
  OptimAlgorithm algorithm = OptimAlgorithm::Adam;
  unsigned state_slots = 0;  // bit k: slot k exists (its bytes, absmax and map below)
  float* param = nullptr;
  const float* grad = nullptr;
  uint8_t* state[kMaxOptimStates] = {nullptr, nullptr, nullptr};
  float* absmax[kMaxOptimStates] = {nullptr, nullptr, nullptr};
  const float* map[kMaxOptimStates] = {nullptr, nullptr, nullptr};  // kQuantMapSize floats each
  const Quant8Block* blocks = nullptr;
  int64_t num_blocks = 0;
  int num_groups = 0;
  OptimHyper hyper[kMaxOptimGroups];
  int64_t step = 0;  // host mode: the 1-based number of this step
  // Capturable mode (all set, on the executor's device; Note [capturable step] in
  // kernels/optim_step.cu): the step count and learning rates are read from device memory, and
  // with advance_step the launch increments device_step[0]. The 8-bit optimisers' rules have
  // no group scalars, so there is nothing else to keep on the device.
  const double* device_lr = nullptr;  // [num_groups]
  unsigned long long* device_step = nullptr;
  unsigned long long* completion = nullptr;  // zero between steps; the last block resets it
  bool advance_step = false;
};

// Group g's step scalars: from the host's step number and lr, or in capturable mode from the
// count and learning rates in (device) memory. One rule for both executors.
template <class Rule>
EMBER_HD typename Rule::template Step<float> blockwise8_group_step(const OptimHyper& hyper, int64_t host_step,
                                                                     const double* device_lr,
                                                                     const unsigned long long* device_step, int g) {
  if (device_step == nullptr) return Rule::template make_step<float>(hyper, host_step, hyper.lr, OptimScalars{});
  return Rule::template make_step<float>(hyper, static_cast<int64_t>(device_step[0]) + 1, device_lr[g], OptimScalars{});
}

// Bytes one step moves per element at least: param read and write, grad read, every slot's
// byte read and written (absmax: 8 bytes per 256 elements per slot, not counted).
inline int64_t blockwise8_step_bytes_per_element(unsigned state_slots) {
  int64_t slots = 0;
  for (int k = 0; k < kMaxOptimStates; ++k) slots += (state_slots >> k) & 1u;
  return 12 + 2 * slots;
}

}  // namespace ember::kernels
