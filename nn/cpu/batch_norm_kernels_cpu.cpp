// The CPU batch-norm kernels (batch_norm_kernels_cpu.h): OpenMP over channels, and per channel
// one function per pass over its N planes of H*W contiguous values: the sums in kLanes float
// lanes (Note [explicit lanes], Note [lane sums]), the elementwise passes as GCC vectorises
// them, each compiled for AVX-512, AVX2 and the baseline (EMBER_CPU_CLONES, picked at load
// time).
//
// Bits: every clone performs the same IEEE operations in the same order (this file is built
// without FMA contraction, and the lanes, not the vector width, fix the order of the sums), and
// each channel's work is one thread's, so the thread count never changes a result.
#include "nn/cpu/batch_norm_kernels_cpu.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>

#include "core/cpu_clones.h"
#include "kernels/bfloat16.h"
#include "kernels/nn_batch_norm_rule.h"
#include "nn/cpu/cpu_layer_backend.h"

namespace ember::nn::cpu {

namespace {

using kernels::BnShape;

constexpr int kLanes = 16;  // float lanes of the sums: one AVX-512 vector, two AVX2 ones

struct Sums {
  double first = 0, second = 0;
};

template <class T>
inline float value(T v) {
  return static_cast<float>(v);
}

// Note [explicit lanes]
// The sums keep kLanes float lanes as one GCC vector (Lanes): one AVX-512 register in the
// x86-64-v4 clone, two AVX2 ones or four SSE ones in the others, the same IEEE operations lane
// by lane in each. Written per element, GCC left the bfloat16 loops scalar (kernels/
// bfloat16.h's conversion through memcpy) and the lane accumulators in scalar registers
// (objdump); explicit vectors widen a chunk of bfloat16 with one conversion (exact: a
// bfloat16 is a float's upper half) and add whole vectors.
using Lanes = float __attribute__((vector_size(4 * kLanes)));
using Words = uint32_t __attribute__((vector_size(4 * kLanes)));
using Halves = uint16_t __attribute__((vector_size(2 * kLanes)));

// Forced inline (EMBER_LANES_INLINE): a 64-byte vector crosses no call between code built
// for different vector widths (at -O0 an out-of-line baseline copy would return it in memory
// to an AVX-512 clone expecting it in zmm0).
#define EMBER_LANES_INLINE inline __attribute__((always_inline))

EMBER_LANES_INLINE Lanes load_lanes(const float* x) {
  Lanes v;
  std::memcpy(&v, x, sizeof v);
  return v;
}
EMBER_LANES_INLINE Lanes load_lanes(const bfloat16* x) {
  Halves h;
  std::memcpy(&h, x, sizeof h);
  const Words w = __builtin_convertvector(h, Words) << 16;
  Lanes v;
  std::memcpy(&v, &w, sizeof v);
  return v;
}

// The lanes' total, in lane order.
EMBER_LANES_INLINE float lane_total(const Lanes& lanes) {
  float total = 0;
  for (int l = 0; l < kLanes; ++l) total += lanes[l];
  return total;
}

// Note [lane sums]
// A channel's two sums run in the lanes across its planes: a plane's whole chunks of kLanes
// values lane by lane, its rest in a scalar float pair of its own, and at the end of the plane
// that takes the lanes past kFlushValues values the lanes' totals go into double and the lanes
// start again; the scalar pair goes into double every kRestFlush values. A float sum then
// holds at most about (kFlushValues + H*W) / kLanes or kRestFlush values, the channel's total
// is exact to double, and the tiny planes of late layers (1x1 to 8x8, all or mostly rest) cost
// a scalar add per value, not a lane reduction per plane nor a vector lane written by index.
constexpr int64_t kFlushValues = 4096;
constexpr int kRestFlush = 256;

struct LaneSums {
  Lanes first = {}, second = {};
  float rest_first = 0, rest_second = 0;
  int rest_count = 0;    // values in the scalar pair since its last flush
  int64_t pending = 0;   // values in the lanes since the last flush
  Sums total;

  EMBER_LANES_INLINE void add(const Lanes& a, const Lanes& b) {
    first += a;
    second += b;
  }
  EMBER_LANES_INLINE void add_one(float a, float b) {
    rest_first += a;
    rest_second += b;
    if (++rest_count == kRestFlush) flush_rest();
  }
  EMBER_LANES_INLINE void end_plane(int64_t values) {
    pending += values;
    if (pending >= kFlushValues) flush();
  }
  EMBER_LANES_INLINE void flush_rest() {
    total.first += rest_first;
    total.second += rest_second;
    rest_first = rest_second = 0;
    rest_count = 0;
  }
  EMBER_LANES_INLINE void flush() {
    total.first += lane_total(first);
    total.second += lane_total(second);
    first = Lanes{};
    second = Lanes{};
    pending = 0;
    flush_rest();
  }
};

BnShape shape_of(const Tensor& x) { return {x.size(0), x.size(1), x.size(2) * x.size(3)}; }

// Offset of plane (n, c).
inline int64_t plane_start(const BnShape& s, int64_t n, int64_t c) { return (n * s.channels + c) * s.plane; }

// Sums of (x - shift) and (x - shift)^2 over channel c.
template <class T>
EMBER_CPU_CLONES Sums shifted_sums(const T* __restrict__ x, const BnShape& s, int64_t c, float shift) {
  LaneSums acc;
  for (int64_t n = 0; n < s.batch; ++n) {
    const T* p = x + plane_start(s, n, c);
    int64_t i = 0;
    for (; i + kLanes <= s.plane; i += kLanes) {
      const Lanes d = load_lanes(p + i) - shift;
      acc.add(d, d * d);
    }
    for (; i < s.plane; ++i) {
      const float d = value(p[i]) - shift;
      acc.add_one(d, d * d);
    }
    acc.end_plane(s.plane);
  }
  acc.flush();
  return acc.total;
}

// Per-channel constants of the elementwise passes.
struct Channel {
  float mean, invstd, w, b;
};

// y = bn(x) over channel c, then relu with kRelu.
template <class T, bool kRelu>
EMBER_CPU_CLONES void normalize_channel(T* __restrict__ y, const T* __restrict__ x, const BnShape& s, int64_t c,
                                        Channel ch) {
  for (int64_t n = 0; n < s.batch; ++n) {
    const int64_t at = plane_start(s, n, c);
    for (int64_t i = at; i < at + s.plane; ++i) {
      const float z = kernels::bn_normalize(value(x[i]), ch.mean, ch.invstd, ch.w, ch.b);
      y[i] = T(kRelu ? kernels::bn_relu(z) : z);
    }
  }
}

// The gradient the backward works on: dy, masked with kRelu where the recomputed output is
// not positive - bn_masked_grad, with bn_relu_grad's test as bn_relu_floor's comparison (the
// same, and tested so, without a bfloat16 rounding per value), as on the lanes.
template <class T, bool kRelu>
inline float masked_grad(T dy, float x, const Channel& ch) {
  if constexpr (!kRelu) return value(dy);
  const float z = kernels::bn_normalize(x, ch.mean, ch.invstd, ch.w, ch.b);
  return z > kernels::bn_relu_floor<T>() ? value(dy) : 0.f;
}

// Sums of g and g * xhat over channel c (g: masked_grad).
template <class T, bool kRelu>
EMBER_CPU_CLONES Sums grad_sums(const T* __restrict__ dy, const T* __restrict__ x, const BnShape& s, int64_t c,
                                Channel ch) {
  LaneSums acc;
  for (int64_t n = 0; n < s.batch; ++n) {
    const int64_t at = plane_start(s, n, c);
    int64_t i = at;
    for (; i + kLanes <= at + s.plane; i += kLanes) {
      const Lanes xs = load_lanes(x + i);
      Lanes g = load_lanes(dy + i);
      if constexpr (kRelu) {
        // masked_grad on the lanes: bn_normalize's arithmetic, then bn_relu_grad's test as
        // bn_relu_floor's comparison, whose all-ones or zero lanes keep g or make it +0.
        const Lanes z = (xs - ch.mean) * (ch.invstd * ch.w) + ch.b;
        g = reinterpret_cast<Lanes>(reinterpret_cast<Words>(g) &
                                    reinterpret_cast<Words>(z > kernels::bn_relu_floor<T>()));
      }
      acc.add(g, g * ((xs - ch.mean) * ch.invstd));
    }
    for (; i < at + s.plane; ++i) {
      const float xv = value(x[i]), g = masked_grad<T, kRelu>(dy[i], xv, ch);
      acc.add_one(g, g * ((xv - ch.mean) * ch.invstd));
    }
    acc.end_plane(s.plane);
  }
  acc.flush();
  return acc.total;
}

// dx over channel c.
template <class T, bool kRelu>
EMBER_CPU_CLONES void input_grad_channel(T* __restrict__ dx, const T* __restrict__ dy, const T* __restrict__ x,
                                         const BnShape& s, int64_t c, Channel ch, float mean_dy, float mean_dy_xhat) {
  for (int64_t n = 0; n < s.batch; ++n) {
    const int64_t at = plane_start(s, n, c);
    for (int64_t i = at; i < at + s.plane; ++i) {
      const float xv = value(x[i]), g = masked_grad<T, kRelu>(dy[i], xv, ch);
      dx[i] = T(kernels::bn_input_grad(g, xv, ch.mean, ch.invstd, ch.w, mean_dy, mean_dy_xhat));
    }
  }
}

const float* data_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }
float* mutable_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// Calls f(TypeTag-like T) for the activation type.
template <class F>
void dispatch(DType dtype, F&& f) {
  if (dtype == DType::BFloat16) return f(bfloat16());
  EMBER_CHECK(dtype == DType::Float32, "internal: the CPU batch-norm kernels take float32 or bfloat16, not {}",
              dtype_name(dtype));
  f(float());
}

template <class T, bool kRelu>
void forward_train(const BatchNormTrainArgs& a) {
  const BnShape s = shape_of(a.input);
  const T* x = a.input.data<T>();
  T* y = a.out.data<T>();
  const float *w = a.weight.data<float>(), *b = a.bias.data<float>();
  float *save_mean = a.save_mean.data<float>(), *save_invstd = a.save_invstd.data<float>();
  float *running_mean = mutable_or_null(a.running_mean), *running_var = mutable_or_null(a.running_var);
#pragma omp parallel for num_threads(num_threads()) if (s.total() > kParallelGrain) schedule(static)
  for (int64_t c = 0; c < s.channels; ++c) {
    // The shift: the channel's first value, so nearly-constant data do not cancel in float.
    const float shift = value(x[plane_start(s, 0, c)]);
    const Sums sums = shifted_sums(x, s, c, shift);
    double mean = 0, var = 0;
    kernels::bn_combine(sums.first, sums.second, shift, s.count(), &mean, &var);
    const float invstd = kernels::bn_invstd(var, a.eps);
    save_mean[c] = static_cast<float>(mean);
    save_invstd[c] = invstd;
    if (running_mean != nullptr)
      kernels::bn_update_running(&running_mean[c], &running_var[c], mean, var, s.count(), a.momentum);
    normalize_channel<T, kRelu>(y, x, s, c, {save_mean[c], invstd, w[c], b[c]});
  }
}

template <class T>
void forward_eval(T* y, const T* x, const float* w, const float* b, const float* running_mean,
                  const float* running_var, double eps, const BnShape& s) {
#pragma omp parallel for num_threads(num_threads()) if (s.total() > kParallelGrain) schedule(static)
  for (int64_t c = 0; c < s.channels; ++c) {
    normalize_channel<T, false>(y, x, s, c, {running_mean[c], kernels::bn_invstd(running_var[c], eps), w[c], b[c]});
  }
}

template <class T, bool kRelu>
void backward(const BatchNormBackwardArgs& a) {
  const BnShape s = shape_of(a.input);
  const T *x = a.input.data<T>(), *dy = a.grad_out.data<T>();
  T* dx = a.grad_in.data<T>();
  const float *w = a.weight.data<float>(), *b = data_or_null(a.bias);
  const float *mean = a.save_mean.data<float>(), *invstd = a.save_invstd.data<float>();
  float *dw = a.grad_weight.data<float>(), *db = a.grad_bias.data<float>();
  const float inv_count = 1.f / static_cast<float>(s.count());
#pragma omp parallel for num_threads(num_threads()) if (s.total() > kParallelGrain) schedule(static)
  for (int64_t c = 0; c < s.channels; ++c) {
    const Channel ch{mean[c], invstd[c], w[c], kRelu ? b[c] : 0.f};
    const Sums sums = grad_sums<T, kRelu>(dy, x, s, c, ch);
    db[c] = static_cast<float>(sums.first);
    dw[c] = static_cast<float>(sums.second);
    const float mean_dy = db[c] * inv_count, mean_dy_xhat = dw[c] * inv_count;
    input_grad_channel<T, kRelu>(dx, dy, x, s, c, ch, mean_dy, mean_dy_xhat);
  }
}

}  // namespace

bool batch_norm_kernels_take(const Tensor& input) {
  return input.device().is_cpu() && input.dim() == 4 && input.is_contiguous() &&
         (input.dtype() == DType::Float32 || input.dtype() == DType::BFloat16);
}

namespace {

// The entry points' checks (the ops check the user's input first, nn/batch_norm.cpp; these
// guard direct callers): the kernels take the input, every other activation is contiguous
// and of its shape and type, and there is data (with training, more than one value per
// channel: the unbiased variance divides by M - 1).
void check_activations(const Tensor& input, std::initializer_list<const Tensor*> others, bool training) {
  EMBER_CHECK(batch_norm_kernels_take(input),
              "internal: the CPU batch-norm kernels take contiguous NCHW float32 or bfloat16, got {} {}",
              dtype_name(input.dtype()), shape_str(input.sizes()));
  for (const Tensor* t : others)
    EMBER_CHECK(t->defined() && t->is_contiguous() && t->sizes() == input.sizes() && t->dtype() == input.dtype(),
                "internal: a CPU batch-norm activation does not match the input {}", shape_str(input.sizes()));
  const int64_t per_channel = input.numel() / std::max<int64_t>(input.size(1), 1);
  EMBER_CHECK(input.numel() > 0 && (!training || per_channel > 1),
              "internal: the CPU batch-norm kernels got {} values per channel (input {})", per_channel,
              shape_str(input.sizes()));
}

}  // namespace

void batch_norm_kernels_forward_train(const BatchNormTrainArgs& a) {
  check_activations(a.input, {&a.out}, true);
  dispatch(a.input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (a.relu) forward_train<T, true>(a);
    else forward_train<T, false>(a);
  });
}

void batch_norm_kernels_forward_eval(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias,
                                     const Tensor& running_mean, const Tensor& running_var, double eps) {
  check_activations(in, {&out}, false);
  dispatch(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    forward_eval<T>(out.data<T>(), in.data<T>(), weight.data<float>(), bias.data<float>(), running_mean.data<float>(),
                    running_var.data<float>(), eps, shape_of(in));
  });
}

void batch_norm_kernels_backward(const BatchNormBackwardArgs& a, bool relu) {
  check_activations(a.input, {&a.grad_out, &a.grad_in}, true);
  EMBER_CHECK(!relu || a.bias.defined(), "internal: the fused batch norm + relu backward needs the bias");
  dispatch(a.input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (relu) backward<T, true>(a);
    else backward<T, false>(a);
  });
}

}  // namespace ember::nn::cpu
