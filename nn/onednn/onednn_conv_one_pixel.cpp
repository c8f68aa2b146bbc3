// Note [one-pixel backward weights]
// A convolution whose output is one pixel per image (Ho = Wo = 1: the last stage of the
// ImageNet stem on 32x32 inputs, ember-train's default model on CIFAR-10) reads input
// (i - pad_h, j - pad_w) through tap (i, j), so its weight gradient is, per tap,
//   grad_weight[:, :, i, j] = grad_out^T [O, N] x input[:, :, i - pad_h, j - pad_w] [N, C]
// for taps inside the input and zero for taps in the padding: one matrix product per live tap
// (a 3x3 kernel on a 1x1 map with padding 1 has one). oneDNN 2.6's direct backward-weights
// works through every tap there: 12 ms for a 512-channel 3x3 layer at batch 256 in bfloat16,
// 4-7x its forward (ONEDNN_VERBOSE, AVX-512). Each product is a oneDNN matmul (float32 or
// bfloat16 with float accumulation), made once per shape, dtype and thread count; the tap's
// input column is gathered to a contiguous [N, C] matrix (no copy when the input is 1x1) and
// its result scattered into the filter.
#include <fmt/format.h>

#include <string>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/onednn/onednn_layers.h"
#include "nn/onednn/onednn_plan.h"

namespace ember::nn::onednn {

namespace {

using dnnl::memory;

struct MatmulKey {
  int64_t out_channels, batch, in_channels;
  DType dtype;
  int threads;
  auto tie() const { return std::tie(out_channels, batch, in_channels, dtype, threads); }
  bool operator<(const MatmulKey& other) const { return tie() < other.tie(); }
};

std::string shape_of(const MatmulKey& k) {
  return fmt::format("grad_out^T [{}, {}] x input tap [{}, {}], {}", k.out_channels, k.batch, k.batch, k.in_channels,
                     dtype_name(k.dtype));
}

// [O, C] = grad_out^T [O, N] x tap [N, C]; grad_out is [N, O] row-major, so its transpose has
// strides {1, O}.
struct MatmulPlan {
  dnnl::primitive primitive;
  memory::desc grad_out_t, tap, result, scratchpad;
};

std::unique_ptr<MatmulPlan> make_plan(const MatmulKey& k) {
  const memory::data_type t = onednn_type(k.dtype);
  auto plan = std::make_unique<MatmulPlan>();
  plan->grad_out_t = memory::desc({k.out_channels, k.batch}, t, memory::dims{1, k.out_channels});
  plan->tap = memory::desc({k.batch, k.in_channels}, t, memory::format_tag::ab);
  plan->result = memory::desc({k.out_channels, k.in_channels}, t, memory::format_tag::ab);
  const auto pd = try_primitive_desc<dnnl::matmul::primitive_desc>("matmul", shape_of(k), [&] {
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(plan->grad_out_t, plan->tap, plan->result),
                                        user_scratchpad_attr(), cpu_engine());
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

}  // namespace

bool one_pixel_output(const Conv2dGeometry& g) { return g.out_h() == 1 && g.out_w() == 1; }

bool conv2d_backward_weights_one_pixel(const Conv2dGeometry& g, const Tensor& grad_weight, const Tensor& grad_out,
                                       const Tensor& input) {
  EMBER_CHECK(one_pixel_output(g) && !g.channels_last, "internal: not a one-pixel NCHW convolution");
  const ThreadTeam team;
  const MatmulKey key{g.out_channels, g.batch, g.in_channels, grad_out.dtype(), team.size()};
  const MatmulPlan* plan = plans().get(key, make_plan);
  if (plan == nullptr) return false;
  NoGradGuard no_grad;
  const Tensor dy = grad_out.contiguous().view({g.batch, g.out_channels});
  const Tensor result = empty({g.out_channels, g.in_channels}, grad_out.options());
  grad_weight.zero_();  // the taps in the padding
  checked(
      "matmul (one-pixel convolution backward weights)", [&] { return shape_of(key); },
      [&] {
        for (int64_t i = 0; i < g.kernel_h; ++i)
          for (int64_t j = 0; j < g.kernel_w; ++j) {
            const int64_t ih = i - g.pad_h, iw = j - g.pad_w;
            if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) continue;
            const Tensor tap = input.select(3, iw).select(2, ih).contiguous();  // [N, C]
            Execution exec;
            exec.run(plan->primitive,
                     {{DNNL_ARG_SRC, exec.wrap(plan->grad_out_t, dy)},
                      {DNNL_ARG_WEIGHTS, exec.wrap(plan->tap, tap)},
                      {DNNL_ARG_DST, exec.wrap(plan->result, result)}},
                     plan->scratchpad);
            grad_weight.select(3, j).select(2, i).copy_(result);
          }
      });
  return true;
}

size_t one_pixel_plan_count() { return plans().size(); }

}  // namespace ember::nn::onednn
