// Dataset: CIFAR-shaped images and labels in memory, and the small operations that build one
// data set from another (a subset of samples, a subset of classes, relabelled classes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ember::data {

constexpr int kNumClasses = 10;

// The CIFAR-10 class names in label order.
const std::vector<std::string>& cifar10_class_names();

struct Dataset {
  Tensor images;  // uint8 [n, 3, 32, 32], CHW bytes exactly as in the CIFAR files
  Tensor labels;  // int64 [n]

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  Device device() const { return images.device(); }
};

// Train and test sets plus a one-line description of what was loaded (for logs).
struct DataSplits {
  Dataset train;
  Dataset test;
  std::string description;
};

// An empty data set (n = 0) on the CPU.
Dataset empty_dataset(int64_t n = 0);
// Checks the shapes and dtypes above; throws Error naming `what` otherwise.
void check_dataset(const Dataset& d, const std::string& what = "data set");
// Both tensors on `device` (no copy when already there).
Dataset to_device(const Dataset& d, Device device);

// A new data set holding samples `indices` of d, in that order (repeats allowed).
Dataset select(const Dataset& d, const std::vector<int64_t>& indices);
// The first n samples (a view, no copy); n is clamped to d.size().
Dataset head(const Dataset& d, int64_t n);
// Indices of the samples whose label is in `classes`, in data set order.
std::vector<int64_t> indices_of_classes(const Dataset& d, const std::vector<int64_t>& classes);
// Same images (shared), labels replaced by mapping[label]; mapping covers every label present.
Dataset map_labels(const Dataset& d, const std::vector<int64_t>& mapping);
// Samples per class, counts[c] for c in [0, classes); labels outside are an Error.
std::vector<int64_t> label_histogram(const Dataset& d, int classes = kNumClasses);

// "0-4", "0,2,7", "0-2,8": sorted distinct class ids in [0, classes). UsageError otherwise.
std::vector<int64_t> parse_class_list(const std::string& text, int classes = kNumClasses);

}  // namespace ember::data
