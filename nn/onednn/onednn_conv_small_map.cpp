// Note [small-map backward weights]
// A convolution whose output map is tiny (Ho * Wo <= 4: the last two stages of the ImageNet
// stem on 32x32 inputs, ember-train's default model on CIFAR-10) takes its weight gradient from
// one matrix product per tap. Output pixel r = (oh, ow) reads input pixel
// q(r) = (oh * stride_h + i - pad_h, ow * stride_w + j - pad_w) through tap (i, j), so
//   grad_weight[:, :, i, j] = sum over the pixels r with q(r) inside the input of
//                             grad_out[:, :, r]^T [O, N] x input[:, :, q(r)] [N, C]
// = [O, K] x [K, C], the live pixels' [N, .] blocks stacked along K (K = N * live pixels); a
// tap with none is zero. oneDNN 2.6's direct backward-weights works through every tap and
// pixel there: 12 ms for a 512-channel 3x3 layer on 1x1 maps at batch 256 in bfloat16, 7 ms
// for a 256-channel one on 2x2 maps, 4-7x their forwards (ONEDNN_VERBOSE, AVX-512); the
// products take 0.35 and 1.4 ms. From 4x4 maps on oneDNN's pass is the faster (the products
// would do 100 / 144 of its arithmetic, in smaller pieces). Each product is a oneDNN matmul (float32, or bfloat16 with float accumulation)
// made once per shape, dtype and thread count. grad_out is copied once pixel-major ([Ho, Wo, N,
// O]: each pixel's block contiguous, used in place where a tap has one live pixel or all of
// them); the input's blocks are gathered per tap, in place where the input is 1x1.
#include <fmt/format.h>

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/onednn/onednn_layers.h"
#include "nn/onednn/onednn_plan.h"

namespace ember::nn::onednn {

namespace {

using dnnl::memory;

constexpr int64_t kSmallMapPixels = 4;
// A kernel of many taps on a tiny map (7x7 covering a 7x7 input, say) would be that many small
// products where one larger one would do: those stay with oneDNN's pass.
constexpr int64_t kSmallMapTaps = 9;

std::atomic<int64_t> small_map_calls{0};

struct MatmulKey {
  int64_t out_channels, depth, in_channels;  // [O, K] x [K, C]
  DType dtype;
  int threads;
  auto tie() const { return std::tie(out_channels, depth, in_channels, dtype, threads); }
  bool operator<(const MatmulKey& other) const { return tie() < other.tie(); }
};

std::string shape_of(const MatmulKey& k) {
  return fmt::format("grad_out^T [{}, {}] x input [{}, {}], {}", k.out_channels, k.depth, k.depth, k.in_channels,
                     dtype_name(k.dtype));
}

// [O, C] = A^T [O, K] x B [K, C] with A [K, O] row-major (the stacked grad_out blocks): the
// transpose has strides {1, O}.
struct MatmulPlan {
  dnnl::primitive primitive;
  memory::desc a_t, b, result, scratchpad;
};

std::unique_ptr<MatmulPlan> make_plan(const MatmulKey& k) {
  const memory::data_type t = onednn_type(k.dtype);
  auto plan = std::make_unique<MatmulPlan>();
  plan->a_t = memory::desc({k.out_channels, k.depth}, t, memory::dims{1, k.out_channels});
  plan->b = memory::desc({k.depth, k.in_channels}, t, memory::format_tag::ab);
  plan->result = memory::desc({k.out_channels, k.in_channels}, t, memory::format_tag::ab);
  const auto pd = try_primitive_desc<dnnl::matmul::primitive_desc>("matmul", shape_of(k), [&] {
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(plan->a_t, plan->b, plan->result), user_scratchpad_attr(),
                                        cpu_engine());
  });
  // oneDNN's reference matmul (bfloat16 without AVX-512, say) is far slower than the direct
  // backward-weights this replaces: only its optimised ones count as having one.
  if (!pd || std::string(pd->impl_info_str()).rfind("ref", 0) == 0) return nullptr;
  plan->primitive = dnnl::matmul(*pd);
  plan->scratchpad = pd->scratchpad_desc();
  return plan;
}

PlanCache<MatmulKey, MatmulPlan>& plans() {
  static auto* cache = new PlanCache<MatmulKey, MatmulPlan>();  // never destroyed: used until exit
  return *cache;
}

// The output pixels whose input pixel through tap (i, j) is inside the input, with it.
struct LivePixel {
  int64_t oh, ow, ih, iw;
};
std::vector<LivePixel> live_pixels(const Conv2dGeometry& g, int64_t i, int64_t j) {
  std::vector<LivePixel> live;
  for (int64_t oh = 0; oh < g.out_h(); ++oh)
    for (int64_t ow = 0; ow < g.out_w(); ++ow) {
      const int64_t ih = oh * g.stride_h + i - g.pad_h, iw = ow * g.stride_w + j - g.pad_w;
      if (ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w) live.push_back({oh, ow, ih, iw});
    }
  return live;
}

// One tap's product: its live pixels, and its plan (none for a tap with no live pixel).
struct TapProduct {
  std::vector<LivePixel> live;
  MatmulKey key;
  const MatmulPlan* plan = nullptr;
};

// Every tap's product, or an empty vector where oneDNN has no optimised matmul for one.
std::vector<TapProduct> tap_products(const Conv2dGeometry& g, DType dtype, int threads) {
  std::vector<TapProduct> taps;
  for (int64_t i = 0; i < g.kernel_h; ++i)
    for (int64_t j = 0; j < g.kernel_w; ++j) {
      TapProduct tap;
      tap.live = live_pixels(g, i, j);
      const auto depth = static_cast<int64_t>(tap.live.size()) * g.batch;
      tap.key = {g.out_channels, depth, g.in_channels, dtype, threads};
      if (depth > 0) {
        tap.plan = plans().get(tap.key, make_plan);
        if (tap.plan == nullptr) return {};
      }
      taps.push_back(std::move(tap));
    }
  return taps;
}

// A tap's stacked blocks [K, channels] of a pixel-major tensor: the block itself when there is
// one (contiguous already), `whole` when the tap's pixels are all of them in order, else
// copies into `scratch`. block(p) gives pixel p's [N, channels] block.
template <class Block>
Tensor stacked(const std::vector<LivePixel>& live, int64_t n, const Tensor& scratch, const Tensor& whole,
               Block&& block) {
  if (live.size() == 1 && block(live[0]).is_contiguous()) return block(live[0]);
  if (whole.defined()) return whole;
  for (size_t k = 0; k < live.size(); ++k)
    scratch.slice(0, int64_t(k) * n, int64_t(k + 1) * n).copy_(block(live[k]));
  return scratch;
}

}  // namespace

bool small_output_map(const Conv2dGeometry& g) {
  return g.out_h() * g.out_w() <= kSmallMapPixels && g.kernel_h * g.kernel_w <= kSmallMapTaps;
}

bool conv2d_backward_weights_small_map(const Conv2dGeometry& g, const Tensor& grad_weight, const Tensor& grad_out,
                                       const Tensor& input) {
  EMBER_CHECK(small_output_map(g) && !g.channels_last, "internal: not a small-map NCHW convolution");
  const ThreadTeam team;
  const std::vector<TapProduct> taps = tap_products(g, grad_out.dtype(), team.size());
  if (taps.empty()) return false;
  small_map_calls++;
  NoGradGuard no_grad;
  const int64_t n = g.batch, pixels = g.out_h() * g.out_w();
  const Tensor dy = grad_out.permute({2, 3, 0, 1}).contiguous();  // [Ho, Wo, N, O]: a block per pixel
  const Tensor all_dy = dy.view({pixels * n, g.out_channels});
  const Tensor a = empty({pixels * n, g.out_channels}, grad_out.options());
  const Tensor b = empty({pixels * n, g.in_channels}, input.options());
  const Tensor result = empty({g.out_channels, g.in_channels}, grad_out.options());
  grad_weight.zero_();  // the taps with no live pixel
  for (size_t t = 0; t < taps.size(); ++t) {
    const TapProduct& tap = taps[t];
    if (tap.plan == nullptr) continue;
    const bool every_pixel = static_cast<int64_t>(tap.live.size()) == pixels;  // in order, as dy's blocks
    const Tensor a_tap = stacked(tap.live, n, a, every_pixel ? all_dy : Tensor(),
                                 [&](const LivePixel& p) { return dy.select(0, p.oh).select(0, p.ow); });
    const Tensor b_tap = stacked(tap.live, n, b, Tensor(),
                                 [&](const LivePixel& p) { return input.select(3, p.iw).select(2, p.ih); });
    checked(
        "matmul (small-map convolution backward weights)", [&] { return shape_of(tap.key); },
        [&] {
          Execution exec;
          exec.run(tap.plan->primitive,
                   {{DNNL_ARG_SRC, exec.wrap(tap.plan->a_t, a_tap)},
                    {DNNL_ARG_WEIGHTS, exec.wrap(tap.plan->b, b_tap)},
                    {DNNL_ARG_DST, exec.wrap(tap.plan->result, result)}},
                   tap.plan->scratchpad);
        });
    const auto i = static_cast<int64_t>(t) / g.kernel_w, j = static_cast<int64_t>(t) % g.kernel_w;
    grad_weight.select(3, j).select(2, i).copy_(result);
  }
  return true;
}

size_t small_map_plan_count() { return plans().size(); }
int64_t small_map_weight_calls() { return small_map_calls; }

}  // namespace ember::nn::onednn
