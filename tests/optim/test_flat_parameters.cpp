// FlatParameters: layout (alignment, groups, segments, frozen parameters, zero padding),
// parameters and gradients as views, zero_grad, and the fused gradient norm and clipping.
#include <gtest/gtest.h>

#include <cmath>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "optim/flat_parameters.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using optim::FlatParameters;
using testing::all_close;

Tensor param(const Shape& shape, uint64_t seed, bool requires_grad = true) {
  Generator g(seed);
  Tensor t = empty(shape);
  uniform_(t, -1, 1, &g);
  t.set_requires_grad(requires_grad);
  return t;
}

TEST(FlatParameters, LaysOutGroupsAlignedWithFrozenParametersOutsideSegments) {
  Tensor a = param({3}, 1), b = param({2, 2}, 2), frozen = param({5}, 3, false), c = param({7}, 4), d = param({1}, 5);
  const std::vector<float> a0 = a.to_vector<float>(), frozen0 = frozen.to_vector<float>();
  FlatParameters flat({{"a", a}, {"fc.b", b}, {"frozen", frozen}, {"c", c}, {"fc.d", d}}, Device::cpu(),
                      optim::group_by_prefix({"fc."}));
  ASSERT_EQ(flat.num_groups(), 2);
  // Group 0 (a, frozen, c) first in model order, then group 1 (fc.b, fc.d); 4-aligned.
  std::vector<std::string> order;
  for (const optim::FlatEntry& e : flat.entries()) {
    order.push_back(e.name);
    EXPECT_EQ(e.offset % 4, 0) << e.name;
  }
  EXPECT_EQ(order, (std::vector<std::string>{"a", "frozen", "c", "fc.b", "fc.d"}));
  EXPECT_EQ(flat.entry("a").offset, 0);
  EXPECT_EQ(flat.entry("frozen").offset, 4);
  EXPECT_EQ(flat.entry("c").offset, 12);
  EXPECT_EQ(flat.entry("fc.b").offset, 20);
  EXPECT_EQ(flat.entry("fc.d").offset, 24);
  EXPECT_EQ(flat.padded_numel(), 28);
  EXPECT_EQ(flat.trainable_numel(), 3 + 4 + 7 + 1);
  EXPECT_EQ(flat.frozen_numel(), 5);
  // Segments: a alone (padding after it), c alone (frozen before it), fc.b + fc.d merged
  // (fc.b ends exactly where fc.d starts).
  const auto& seg = flat.segments();
  ASSERT_EQ(seg.size(), 3u);
  EXPECT_EQ(seg[0].begin, 0);
  EXPECT_EQ(seg[0].end, 3);
  EXPECT_EQ(seg[0].group, 0);
  EXPECT_EQ(seg[1].begin, 12);
  EXPECT_EQ(seg[1].end, 19);
  EXPECT_EQ(seg[1].group, 0);
  EXPECT_EQ(seg[2].begin, 20);
  EXPECT_EQ(seg[2].end, 25);
  EXPECT_EQ(seg[2].group, 1);
  EXPECT_EQ(seg[0].first_granule, 0);
  EXPECT_EQ(seg[1].first_granule, 1);
  EXPECT_EQ(seg[2].first_granule, 3);
  EXPECT_EQ(flat.num_granules(), 5);
  EXPECT_EQ(flat.segment_table().numel(), 18);  // six int64 words per segment
  EXPECT_EQ(seg[2].state_begin, seg[2].begin);   // state laid out like the parameters

  // Values moved in, padding zero, parameters are views of the flat buffer.
  const std::vector<float> values = flat.values().to_vector<float>();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(values[i], a0[i]);
  EXPECT_EQ(values[3], 0.0f);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(values[4 + i], frozen0[i]);
  for (int i : {9, 10, 11, 19, 25, 26, 27}) EXPECT_EQ(values[i], 0.0f) << i;
  EXPECT_EQ(a.storage().get(), flat.values().storage().get());
  EXPECT_EQ(a.to_vector<float>(), a0);
  {
    NoGradGuard no_grad;
    flat.values().slice(0, 1, 2).fill_(42.0);
  }
  EXPECT_EQ(a.to_vector<float>()[1], 42.0f);
  // Trainable parameters have gradient views; frozen ones none.
  ASSERT_TRUE(c.grad().defined());
  EXPECT_EQ(c.grad().storage().get(), flat.grads().storage().get());
  EXPECT_EQ(c.grad().offset(), 12);
  EXPECT_FALSE(frozen.grad().defined());
}

TEST(FlatParameters, BackwardAccumulatesIntoTheFlatGradientsAndZeroGradClearsThem) {
  Tensor w = param({2, 3}, 1), b = param({3}, 2);
  FlatParameters flat({{"w", w}, {"b", b}}, Device::cpu());
  Tensor x = from_vector<float>({1, 2}, {1, 2});
  sum(matmul(x, w) + b).backward();
  sum(matmul(x, w) + b).backward();  // accumulates: twice the gradient
  EXPECT_TRUE(all_close(w.grad(), from_vector<float>({2, 2, 2, 4, 4, 4}, {2, 3}), 0, 0));
  EXPECT_TRUE(all_close(flat.grads().slice(0, 0, 6), from_vector<float>({2, 2, 2, 4, 4, 4}, {6}), 0, 0));
  EXPECT_TRUE(all_close(flat.grads().slice(0, 8, 11), from_vector<float>({2, 2, 2}, {3}), 0, 0));
  flat.zero_grad();
  for (float g : flat.grads().to_vector<float>()) EXPECT_EQ(g, 0.0f);
  EXPECT_EQ(w.grad().storage().get(), flat.grads().storage().get());  // still the views
}

TEST(FlatParameters, KeepsExistingGradientsAndRejectsBadParameters) {
  Tensor w = param({3}, 1);
  w.set_grad(from_vector<float>({1, 2, 3}, {3}));
  FlatParameters flat({{"w", w}}, Device::cpu());
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{1, 2, 3}));

  Tensor p = param({2}, 2);
  EXPECT_THROW(FlatParameters({{"p", p}, {"p", param({2}, 3)}}, Device::cpu()), Error);           // same name
  EXPECT_THROW(FlatParameters({{"p", p}, {"q", p}}, Device::cpu()), Error);                       // shared tensor
  EXPECT_THROW(FlatParameters({{"d", param({2}, 4).to(DType::Float64)}}, Device::cpu()), Error);  // dtype
  EXPECT_THROW(FlatParameters({{"u", Tensor()}}, Device::cpu()), Error);
  EXPECT_THROW(FlatParameters({{"p", p}}, Device::cpu(), [](const std::string&) { return 8; }), Error);
}

TEST(FlatParameters, HandlesEmptyAndZeroSizedParameters) {
  FlatParameters none({}, Device::cpu());
  EXPECT_EQ(none.padded_numel(), 0);
  EXPECT_EQ(none.segments().size(), 0u);
  none.zero_grad();
  EXPECT_EQ(none.grad_norm().item(), 0.0);
  Tensor empty_param = param({0, 3}, 1), w = param({2}, 2);
  FlatParameters flat({{"e", empty_param}, {"w", w}}, Device::cpu());
  EXPECT_EQ(flat.segments().size(), 1u);
  EXPECT_EQ(flat.entry("w").offset, 0);
}

TEST(FlatParameters, GroupByPrefixTakesTheFirstMatchingPrefix) {
  const optim::GroupFn f = optim::group_by_prefix({"fc.", "layer4."});
  EXPECT_EQ(f("fc.weight"), 1);
  EXPECT_EQ(f("layer4.0.conv1.weight"), 2);
  EXPECT_EQ(f("conv1.weight"), 0);
}

TEST(FlatParameters, GradNormAndClippingFollowTorch) {
  Tensor a = param({5}, 1), b = param({3}, 2), frozen = param({4}, 3, false);
  FlatParameters flat({{"a", a}, {"frozen", frozen}, {"b", b}}, Device::cpu());
  const std::vector<float> ga = {3, 0, -4, 1, 2}, gb = {0.5f, -0.5f, 2};
  copy_from_host(a.grad(), ga.data(), 20);
  copy_from_host(b.grad(), gb.data(), 12);
  double sq = 0;
  for (float g : ga) sq += double(g) * g;
  for (float g : gb) sq += double(g) * g;
  const float norm = static_cast<float>(std::sqrt(sq));
  EXPECT_FLOAT_EQ(static_cast<float>(flat.grad_norm().item()), norm);

  // No clipping below the threshold (scale min(1, ...) = 1): gradients unchanged.
  EXPECT_FLOAT_EQ(static_cast<float>(flat.clip_grad_norm(100.0).item()), norm);
  EXPECT_EQ(a.grad().to_vector<float>(), ga);
  // Clipping: grad * max_norm / (norm + 1e-6), in float as torch computes it.
  const Tensor before = flat.clip_grad_norm(1.0);
  EXPECT_FLOAT_EQ(static_cast<float>(before.item()), norm);
  const float scale = 1.0f / (norm + 1e-6f);
  const std::vector<float> clipped = a.grad().to_vector<float>();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(clipped[i], ga[i] * scale);
  EXPECT_NEAR(flat.grad_norm().item(), 1.0, 1e-5);
  // An infinite max_norm only measures.
  EXPECT_NEAR(flat.clip_grad_norm(INFINITY).item(), 1.0, 1e-5);
  EXPECT_THROW(flat.clip_grad_norm(0.0), Error);
}

}  // namespace
}  // namespace ember
