// The parameter layout ember-bench-optim measures: torchvision's resnet18(num_classes=10),
// 62 tensors and 11,181,642 parameters (scripts/bench_torch_optim.py takes the same shapes
// from torchvision itself). Other sizes scale every tensor by the same factor, so a run at
// N = 100,000,000 still has ResNet-18's 62 tensors in ResNet-18's proportions.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ember::bench {

constexpr int64_t kResNet18Params = 11181642;

// (name, shape) in torchvision's named_parameters() order.
std::vector<std::pair<std::string, Shape>> resnet18_shapes();
// Element counts of the 62 tensors scaled to n in total (each at least 1; n >= 62).
std::vector<int64_t> scaled_layout(int64_t n);

}  // namespace ember::bench
