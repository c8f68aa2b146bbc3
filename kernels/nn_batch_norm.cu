// Batch normalisation kernels for bfloat16 (or float32 NHWC) activations with float32
// statistics, optionally fused with the ReLU after it (rules and index arithmetic in
// kernels/nn_batch_norm_rule.h). Per training forward: partial sums (NCHW: splits x channels
// blocks; NHWC: splits blocks over all channels), one warp per channel to combine them, one
// elementwise pass; per backward the same shape. All arithmetic is float, statistics combine
// in double. Bytes: the forward reads x twice and writes y once; the backward reads dy and x
// twice and writes dx once (2 bytes each for bfloat16).
//
// Every pass moves packs of 16 bytes per thread where the layout allows (Note [batch-norm
// index paths]) and uses 32-bit index math below 2^31 elements. The elementwise passes over
// NCHW planes of at least a warp's worth of packs run on a 2-D grid (x: packs of one plane,
// y: the N*C planes), so a pack's channel costs nothing; other layouts walk the packs flat,
// one multiply-shift division per pack.
#include <cstdint>
#include <initializer_list>

#include "kernels/block_reduce.cuh"
#include "kernels/launch.cuh"
#include "kernels/nn_batch_norm.h"

namespace ember::kernels {

namespace {

constexpr int kBnBlock = 256;
constexpr unsigned kMaxGridY = 65535;  // CUDA's limit on gridDim.y: larger extents are strided over

// `width` consecutive values, loaded and stored as one access (16 bytes for the vector width).
template <class T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};
template <class T, int V, class I>
__device__ __forceinline__ Pack<T, V> load_pack(const T* p, I i) {
  return *reinterpret_cast<const Pack<T, V>*>(p + i);
}
template <class T, int V, class I>
__device__ __forceinline__ void store_pack(T* p, I i, const Pack<T, V>& value) {
  *reinterpret_cast<Pack<T, V>*>(p + i) = value;
}

// One per-channel float for each value of a pack: V loads in NHWC (channels c0 .. c0+V-1),
// one in NCHW (one channel). A null pointer is never read: its values are 0.
template <int V, bool kNhwc>
struct PerChannel {
  static constexpr int kLoads = kNhwc ? V : 1;
  float v[kLoads];
  template <class I>
  __device__ __forceinline__ PerChannel(const float* p, I c0) {
#pragma unroll
    for (int e = 0; e < kLoads; ++e) v[e] = p != nullptr ? p[c0 + e] : 0.f;
  }
  __device__ __forceinline__ float operator[](int e) const { return v[kNhwc ? e : 0]; }
};

// Everything an elementwise pass may read or write; each pass uses its own part.
template <class T>
struct BnElementwiseArgs {
  T* out = nullptr;  // y, or dx in the backward
  const T* x = nullptr;
  const T* dy = nullptr;
  const float *mean = nullptr, *invstd = nullptr;  // save_mean / save_invstd, or the running mean / variance
  const float *w = nullptr, *b = nullptr;          // b: null in a backward without relu
  const float *dw = nullptr, *db = nullptr;
  float eps = 0.f, inv_count = 0.f;
  bool relu = false;
  bool eval = false;  // invstd holds the running variance (and eps is used)
};

// The elementwise passes, each on one pack whose first value is at i0 and whose (first)
// channel is c0.
template <class T, int V, bool kNhwc>
struct NormalizeOp {  // y = bn(x) [then relu]: training (save_mean/save_invstd) or evaluation
  BnElementwiseArgs<T> a;
  template <class I>
  __device__ void operator()(I i0, I c0) const {
    const Pack<T, V> x = load_pack<T, V>(a.x, i0);
    const PerChannel<V, kNhwc> mean(a.mean, c0), scale(a.invstd, c0), w(a.w, c0), b(a.b, c0);
    Pack<T, V> y;
#pragma unroll
    for (int e = 0; e < V; ++e) {
      // Evaluation: the running variance, and rsqrtf, not bn_invstd's double sqrt: the
      // statistics are the running ones, and a float reciprocal square root is plenty there.
      const float invstd = a.eval ? rsqrtf(scale[e] + a.eps) : scale[e];
      const float z = bn_normalize(float(x.v[e]), mean[e], invstd, w[e], b[e]);
      y.v[e] = T(a.relu ? bn_relu(z) : z);
    }
    store_pack(a.out, i0, y);
  }
};

template <class T, int V, bool kNhwc>
struct InputGradOp {  // backward: dx from dy (masked by the recomputed relu), dw and db
  BnElementwiseArgs<T> a;
  template <class I>
  __device__ void operator()(I i0, I c0) const {
    const Pack<T, V> x = load_pack<T, V>(a.x, i0), dy = load_pack<T, V>(a.dy, i0);
    const PerChannel<V, kNhwc> mean(a.mean, c0), invstd(a.invstd, c0), w(a.w, c0), b(a.relu ? a.b : nullptr, c0);
    const PerChannel<V, kNhwc> dw(a.dw, c0), db(a.db, c0);
    Pack<T, V> dx;
#pragma unroll
    for (int e = 0; e < V; ++e) {
      const float xv = float(x.v[e]);
      const float g = bn_masked_grad<T>(float(dy.v[e]), xv, mean[e], invstd[e], w[e], b[e], a.relu);
      dx.v[e] = T(bn_input_grad(g, xv, mean[e], invstd[e], w[e], db[e] * a.inv_count, dw[e] * a.inv_count));
    }
    store_pack(a.out, i0, dx);
  }
};

// Walks every pack of the tensor: flat (any layout; Index is BnIndex32 or BnIndex64, I its
// integer type) ...
template <class Op, int V, class Index, class I>
__global__ void __launch_bounds__(kBlock) bn_flat_kernel(Op op, Index index, I packs) {
  for (I q = I(global_thread()); q < packs; q += I(grid_stride())) {
    const I i0 = q * V;
    op(i0, I(index.channel_of(i0)));
  }
}

// ... or by planes (NCHW, fewer than 2^31 elements): threadIdx.x/blockIdx.x over the packs
// of one plane, threadIdx.y/blockIdx.y over the N*C planes (a block holds 256 / blockDim.x
// planes, so planes of 32 packs keep every thread busy).
template <class Op, int V>
__global__ void __launch_bounds__(kBlock) bn_plane_kernel(Op op, IntDivider channels, uint32_t planes,
                                                          uint32_t packs_per_plane) {
  for (uint32_t p = blockIdx.y * blockDim.y + threadIdx.y; p < planes; p += gridDim.y * blockDim.y) {
    const uint32_t c = channels.mod(p);
    for (uint32_t q = blockIdx.x * blockDim.x + threadIdx.x; q < packs_per_plane; q += gridDim.x * blockDim.x)
      op((p * packs_per_plane + q) * V, c);
  }
}

// The block and grid of bn_plane_kernel: blockDim.x the power of two >= 32 that covers a
// plane's packs (at most kBlock), the rest of the 256 threads on further planes.
struct PlaneLaunch {
  dim3 grid, block;
};
PlaneLaunch plane_launch(int64_t planes, int64_t packs_per_plane) {
  unsigned x = 32;
  while (x < kBlock && x < packs_per_plane) x *= 2;
  const unsigned y = kBlock / x;
  const int64_t blocks_x = (packs_per_plane + x - 1) / x, blocks_y = (planes + y - 1) / y;
  return {dim3(static_cast<unsigned>(blocks_x), static_cast<unsigned>(blocks_y < kMaxGridY ? blocks_y : kMaxGridY)),
          dim3(x, y)};
}

// One elementwise pass over the whole tensor with the walk that fits (see the file comment).
template <template <class, int, bool> class Op, class T, int V, bool kNhwc>
void walk_packs(const BnElementwiseArgs<T>& args, const BnShape& s, cudaStream_t stream) {
  if constexpr (V > 1) {
    if (s.total() > kMaxIndex32) return walk_packs<Op, T, 1, kNhwc>(args, s, stream);  // rare: keep it scalar
  }
  const Op<T, V, kNhwc> op{args};
  if (s.total() > kMaxIndex32) {
    bn_flat_kernel<Op<T, V, kNhwc>, V><<<grid_for(s.total()), kBlock, 0, stream>>>(op, BnIndex64{s}, s.total());
    return;
  }
  const int64_t packs_per_plane = s.plane / V;
  if (!kNhwc && packs_per_plane >= 32) {
    const int64_t planes = s.batch * s.channels;
    const PlaneLaunch l = plane_launch(planes, packs_per_plane);
    bn_plane_kernel<Op<T, V, kNhwc>, V><<<l.grid, l.block, 0, stream>>>(
        op, IntDivider(static_cast<uint32_t>(s.channels)), static_cast<uint32_t>(planes),
        static_cast<uint32_t>(packs_per_plane));
    return;
  }
  const int64_t packs = s.total() / V;
  bn_flat_kernel<Op<T, V, kNhwc>, V><<<grid_for(packs), kBlock, 0, stream>>>(op, BnIndex32(s), uint32_t(packs));
}

template <class T>
bool aligned16(const T* p) {
  return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// Pack width of a launch: the vector width when the layout and every activation pointer allow.
template <class T>
int pack_width(const BnShape& s, std::initializer_list<const T*> activations) {
  for (const T* p : activations)
    if (!aligned16(p)) return 1;
  return bn_pack_width(s, sizeof(T));
}

template <template <class, int, bool> class Op, class T>
void launch_elementwise_pass(const BnElementwiseArgs<T>& args, const BnShape& s, int width, cudaStream_t stream) {
  constexpr int kV = 16 / sizeof(T);
  if (width == kV) {
    if (s.nhwc) walk_packs<Op, T, kV, true>(args, s, stream);
    else walk_packs<Op, T, kV, false>(args, s, stream);
  } else {
    if (s.nhwc) walk_packs<Op, T, 1, true>(args, s, stream);
    else walk_packs<Op, T, 1, false>(args, s, stream);
  }
}

// What a partial sum adds per value: kBackward, the masked dy and dy * xhat; else x - shift
// and its square. The terms of one channel:
struct BnPartialTerms {
  float shift = 0.f, mean = 0.f, invstd = 0.f, w = 0.f, b = 0.f;
};

// ... loaded once per channel: the backward's statistics and weights (the bias only with
// relu: it is null otherwise and never read), the forward's shift (the channel's first value,
// at `first`).
template <class T, bool kBackward, class I>
__device__ __forceinline__ BnPartialTerms partial_terms(const T* x, const float* mean, const float* invstd,
                                                        const float* w, const float* bias, bool relu, int64_t c,
                                                        I first) {
  BnPartialTerms t;
  if constexpr (kBackward) {
    t.mean = mean[c], t.invstd = invstd[c], t.w = w[c];
    t.b = relu ? bias[c] : 0.f;
  } else {
    t.shift = float(x[first]);
  }
  return t;
}

template <class T, bool kBackward>
__device__ __forceinline__ void add_partial_terms(float x, float dy, const BnPartialTerms& t, bool relu, float& a,
                                                  float& b) {
  if constexpr (kBackward) {
    const float g = bn_masked_grad<T>(dy, x, t.mean, t.invstd, t.w, t.b, relu);
    a += g;
    b += g * (x - t.mean) * t.invstd;
  } else {
    const float d = x - t.shift;
    a += d;
    b += d * d;
  }
}

// NCHW partial sums: block (split, channel) sums the packs of its range of the channel.
template <class T, int V, bool kBackward, class Index, class I>
__global__ void __launch_bounds__(kBnBlock)
    bn_partial_nchw_kernel(float* partials, const T* x, const T* dy, const float* mean, const float* invstd,
                           const float* w, const float* bias, bool relu, BnShape s, int splits, Index index) {
  const int split = blockIdx.x;
  int64_t begin = 0, end = 0;
  bn_split_range(s.count(), split, splits, &begin, &end, V);
  for (int64_t c = blockIdx.y; c < s.channels; c += gridDim.y) {  // c is the same for the whole block
    const BnPartialTerms terms =
        partial_terms<T, kBackward>(x, mean, invstd, w, bias, relu, c, index.offset(I(0), I(c)));
    float a = 0.f, b = 0.f;
    for (int64_t j = begin + int64_t(threadIdx.x) * V; j < end; j += int64_t(blockDim.x) * V) {
      const I o = index.offset(I(j), I(c));  // V values of channel c from here on
      const Pack<T, V> xv = load_pack<T, V>(x, o), gv = kBackward ? load_pack<T, V>(dy, o) : xv;
#pragma unroll
      for (int e = 0; e < V; ++e) add_partial_terms<T, kBackward>(float(xv.v[e]), float(gv.v[e]), terms, relu, a, b);
    }
    a = block_reduce(a, SumOp{}, 0.f);
    b = block_reduce(b, SumOp{}, 0.f);
    if (threadIdx.x == 0) {
      partials[(c * splits + split) * 2] = a;
      partials[(c * splits + split) * 2 + 1] = b;
    }
  }
}

// NHWC partial sums (Note in kernels/nn_batch_norm_rule.h): one block per range of rows, its
// threads owning packs of V consecutive channels (bn_nhwc_lanes over C / V packs), the row
// groups of a channel combined in shared memory.
template <class T, int V, bool kBackward, class I>
__global__ void __launch_bounds__(kBnBlock)
    bn_partial_nhwc_kernel(float* partials, const T* x, const T* dy, const float* mean, const float* invstd,
                           const float* w, const float* bias, bool relu, BnShape s, int splits) {
  __shared__ float shared[2][V][kBnBlock];
  const int split = blockIdx.x;
  int64_t begin = 0, end = 0;
  bn_split_range(s.count(), split, splits, &begin, &end);
  const int64_t channel_packs = s.channels / V;
  const BnNhwcLanes lanes = bn_nhwc_lanes(channel_packs, blockDim.x);
  const int t = threadIdx.x, group = t / lanes.channels, lane = t % lanes.channels;
  const bool active = group < lanes.groups;
  for (int64_t first = 0; first < channel_packs; first += lanes.channels) {  // once unless C / V > threads
    const int64_t c0 = (first + lane) * V;
    const bool owner = active && c0 < s.channels;
    float a[V] = {}, b[V] = {};
    if (owner) {
      BnPartialTerms terms[V];
#pragma unroll
      for (int e = 0; e < V; ++e)  // the channel's first value is at c (row 0)
        terms[e] = partial_terms<T, kBackward>(x, mean, invstd, w, bias, relu, c0 + e, I(c0 + e));
      for (int64_t row = begin + group; row < end; row += lanes.groups) {
        const I o = I(row * s.channels + c0);
        const Pack<T, V> xv = load_pack<T, V>(x, o), gv = kBackward ? load_pack<T, V>(dy, o) : xv;
#pragma unroll
        for (int e = 0; e < V; ++e)
          add_partial_terms<T, kBackward>(float(xv.v[e]), float(gv.v[e]), terms[e], relu, a[e], b[e]);
      }
    }
#pragma unroll
    for (int e = 0; e < V; ++e) shared[0][e][t] = a[e], shared[1][e][t] = b[e];
    __syncthreads();
    if (owner && group == 0) {
      for (int k = 1; k < lanes.groups; ++k) {
#pragma unroll
        for (int e = 0; e < V; ++e) {
          a[e] += shared[0][e][k * lanes.channels + lane];
          b[e] += shared[1][e][k * lanes.channels + lane];
        }
      }
#pragma unroll
      for (int e = 0; e < V; ++e) {
        partials[((c0 + e) * splits + split) * 2] = a[e];
        partials[((c0 + e) * splits + split) * 2 + 1] = b[e];
      }
    }
    __syncthreads();  // shared is reused by the next channel chunk
  }
}

// The finish kernels: one warp per channel, its lanes summing the channel's partial pairs in
// double (up to 512 of them for NHWC), then a warp reduction.
__device__ __forceinline__ void sum_partials(const float* partials, int64_t c, int splits, double* first,
                                             double* second) {
  const int lane = threadIdx.x % 32;
  double a = 0, b = 0;
  for (int k = lane; k < splits; k += 32) {
    a += partials[(c * splits + k) * 2];
    b += partials[(c * splits + k) * 2 + 1];
  }
  *first = warp_reduce(a, SumOp{});
  *second = warp_reduce(b, SumOp{});
}

template <class T>
__global__ void __launch_bounds__(kBlock)
    bn_stats_finish_kernel(float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                           const float* partials, const T* x, BnShape s, int splits, double momentum, double eps) {
  // Whole warps step over the channels together, so every lane takes part in the shuffles.
  for (int64_t c = global_thread() / 32; c < s.channels; c += grid_stride() / 32) {
    double sum = 0, squares = 0;
    sum_partials(partials, c, splits, &sum, &squares);
    if (threadIdx.x % 32 != 0) continue;
    double mean = 0, var = 0;
    bn_combine(sum, squares, double(float(x[bn_offset(0, c, s)])), s.count(), &mean, &var);
    save_mean[c] = float(mean);
    save_invstd[c] = bn_invstd(var, eps);
    if (running_mean) bn_update_running(&running_mean[c], &running_var[c], mean, var, s.count(), momentum);
  }
}

__global__ void __launch_bounds__(kBlock) bn_backward_finish_kernel(float* dw, float* db, const float* partials,
                                                                    BnShape s, int splits) {
  for (int64_t c = global_thread() / 32; c < s.channels; c += grid_stride() / 32) {
    double sum_dy = 0, sum_dy_xhat = 0;
    sum_partials(partials, c, splits, &sum_dy, &sum_dy_xhat);
    if (threadIdx.x % 32 != 0) continue;
    db[c] = float(sum_dy);
    dw[c] = float(sum_dy_xhat);
  }
}

// What the partial kernels read: x (and dy, the statistics, w and the bias for the backward).
template <class T>
struct BnPartialArgs {
  float* partials;
  const T* x;
  const T* dy;
  const float *mean, *invstd, *w, *bias;
  bool relu;
};

template <class T, int V, bool kBackward>
void launch_partial_width(const BnPartialArgs<T>& a, const BnShape& s, int splits, cudaStream_t stream) {
  if (s.nhwc) {
    const auto kernel = s.total() <= kMaxIndex32 ? bn_partial_nhwc_kernel<T, V, kBackward, uint32_t>
                                                 : bn_partial_nhwc_kernel<T, V, kBackward, int64_t>;
    kernel<<<splits, kBnBlock, 0, stream>>>(a.partials, a.x, a.dy, a.mean, a.invstd, a.w, a.bias, a.relu, s, splits);
    return;
  }
  const dim3 grid(static_cast<unsigned>(splits),
                  static_cast<unsigned>(s.channels < kMaxGridY ? s.channels : kMaxGridY));
  if (s.total() <= kMaxIndex32)
    bn_partial_nchw_kernel<T, V, kBackward, BnIndex32, uint32_t><<<grid, kBnBlock, 0, stream>>>(
        a.partials, a.x, a.dy, a.mean, a.invstd, a.w, a.bias, a.relu, s, splits, BnIndex32(s));
  else
    bn_partial_nchw_kernel<T, V, kBackward, BnIndex64, int64_t><<<grid, kBnBlock, 0, stream>>>(
        a.partials, a.x, a.dy, a.mean, a.invstd, a.w, a.bias, a.relu, s, splits, BnIndex64{s});
}

template <class T, bool kBackward>
void launch_partials(const BnPartialArgs<T>& a, const BnShape& s, int splits, int width, cudaStream_t stream) {
  constexpr int kV = 16 / sizeof(T);
  if (width == kV) launch_partial_width<T, kV, kBackward>(a, s, splits, stream);
  else launch_partial_width<T, 1, kBackward>(a, s, splits, stream);
}

}  // namespace

template <class T>
cudaError_t launch_batch_norm_forward_train(T* y, float* save_mean, float* save_invstd, float* running_mean,
                                            float* running_var, const T* x, const float* w, const float* b,
                                            float* partials, const BnShape& s, int splits, double momentum,
                                            double eps, bool relu, cudaStream_t stream) {
  if (s.total() <= 0) return cudaSuccess;
  if (splits < 1) return cudaErrorInvalidValue;
  const int width = pack_width<T>(s, {y, x});
  launch_partials<T, false>({partials, x, nullptr, nullptr, nullptr, nullptr, nullptr, false}, s, splits, width,
                            stream);
  bn_stats_finish_kernel<T><<<grid_for(s.channels * 32), kBlock, 0, stream>>>(save_mean, save_invstd, running_mean,
                                                                         running_var, partials, x, s, splits,
                                                                         momentum, eps);
  BnElementwiseArgs<T> a;
  a.out = y, a.x = x, a.mean = save_mean, a.invstd = save_invstd, a.w = w, a.b = b, a.relu = relu;
  launch_elementwise_pass<NormalizeOp>(a, s, width, stream);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_batch_norm_forward_eval(T* y, const T* x, const float* w, const float* b,
                                           const float* running_mean, const float* running_var, const BnShape& s,
                                           double eps, cudaStream_t stream) {
  if (s.total() <= 0) return cudaSuccess;
  BnElementwiseArgs<T> a;
  a.out = y, a.x = x, a.mean = running_mean, a.invstd = running_var, a.w = w, a.b = b;
  a.eps = static_cast<float>(eps), a.eval = true;
  launch_elementwise_pass<NormalizeOp>(a, s, pack_width<T>(s, {y, x}), stream);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_batch_norm_backward(T* dx, float* dw, float* db, const T* dy, const T* x, const float* w,
                                       const float* b, const float* save_mean, const float* save_invstd,
                                       float* partials, const BnShape& s, int splits, bool relu,
                                       cudaStream_t stream) {
  if (s.total() <= 0) return cudaSuccess;
  if (splits < 1 || (relu && b == nullptr)) return cudaErrorInvalidValue;
  const int width = pack_width<T>(s, {dx, dy, x});
  launch_partials<T, true>({partials, x, dy, save_mean, save_invstd, w, b, relu}, s, splits, width, stream);
  bn_backward_finish_kernel<<<grid_for(s.channels * 32), kBlock, 0, stream>>>(dw, db, partials, s, splits);
  BnElementwiseArgs<T> a;
  a.out = dx, a.x = x, a.dy = dy, a.mean = save_mean, a.invstd = save_invstd, a.w = w, a.b = b, a.dw = dw, a.db = db;
  a.relu = relu;
  a.inv_count = 1.f / float(s.count());
  launch_elementwise_pass<InputGradOp>(a, s, width, stream);
  return cudaGetLastError();
}

#define EMBER_BN_INSTANTIATE(T)                                                                                      \
  template cudaError_t launch_batch_norm_forward_train<T>(T*, float*, float*, float*, float*, const T*, const float*, \
                                                          const float*, float*, const BnShape&, int, double, double, \
                                                          bool, cudaStream_t);                                       \
  template cudaError_t launch_batch_norm_forward_eval<T>(T*, const T*, const float*, const float*, const float*,     \
                                                         const float*, const BnShape&, double, cudaStream_t);        \
  template cudaError_t launch_batch_norm_backward<T>(T*, float*, float*, const T*, const T*, const float*,           \
                                                     const float*, const float*, const float*, float*,               \
                                                     const BnShape&, int, bool, cudaStream_t);
EMBER_BN_INSTANTIATE(bfloat16)
EMBER_BN_INSTANTIATE(float)

}  // namespace ember::kernels
