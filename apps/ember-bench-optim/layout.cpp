#include "apps/ember-bench-optim/layout.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ember::bench {

std::vector<std::pair<std::string, Shape>> resnet18_shapes() {
  std::vector<std::pair<std::string, Shape>> shapes = {{"conv1.weight", {64, 3, 7, 7}}};
  auto bn = [&](const std::string& name, int64_t c) {
    shapes.push_back({name + ".weight", {c}});
    shapes.push_back({name + ".bias", {c}});
  };
  bn("bn1", 64);
  int64_t in = 64;
  for (int layer = 1; layer <= 4; ++layer) {
    const int64_t out = 64 << (layer - 1);
    for (int block = 0; block < 2; ++block) {
      const std::string p = "layer" + std::to_string(layer) + "." + std::to_string(block);
      const int64_t block_in = block == 0 ? in : out;
      shapes.push_back({p + ".conv1.weight", {out, block_in, 3, 3}});
      bn(p + ".bn1", out);
      shapes.push_back({p + ".conv2.weight", {out, out, 3, 3}});
      bn(p + ".bn2", out);
      if (block == 0 && block_in != out) {  // stride-2 blocks: a 1x1 projection
        shapes.push_back({p + ".downsample.0.weight", {out, block_in, 1, 1}});
        bn(p + ".downsample.1", out);
      }
    }
    in = out;
  }
  shapes.push_back({"fc.weight", {10, 512}});
  shapes.push_back({"fc.bias", {10}});
  return shapes;
}

std::vector<int64_t> scaled_layout(int64_t n) {
  const auto shapes = resnet18_shapes();
  EMBER_USAGE_CHECK(n >= static_cast<int64_t>(shapes.size()), "--n {}: at least {} parameters (one per tensor)", n,
                    shapes.size());
  if (n == kResNet18Params) {  // ResNet-18 itself, tensor by tensor
    std::vector<int64_t> exact;
    int64_t total = 0;
    for (const auto& [name, shape] : shapes) total += exact.emplace_back(shape_numel(shape));
    EMBER_CHECK(total == kResNet18Params && shapes.size() == 62, "ResNet-18 layout: {} tensors, {} parameters",
                shapes.size(), total);
    return exact;
  }
  // One element each, the rest shared in proportion (rounded down), the remainder to the
  // largest tensor.
  const int64_t spare = n - static_cast<int64_t>(shapes.size());
  std::vector<int64_t> sizes;
  int64_t total = 0;
  size_t largest = 0;
  for (const auto& [name, shape] : shapes) {
    const double share = double(shape_numel(shape)) * double(spare) / double(kResNet18Params);
    sizes.push_back(1 + static_cast<int64_t>(std::floor(share)));
    total += sizes.back();
    if (shape_numel(shape) > shape_numel(shapes[largest].second)) largest = sizes.size() - 1;
  }
  sizes[largest] += n - total;
  int64_t check = 0;
  for (int64_t k : sizes) check += k;
  EMBER_CHECK(check == n && shapes.size() == 62, "layout of {} parameters: {} tensors, {} elements", n, shapes.size(),
              check);
  return sizes;
}

}  // namespace ember::bench
