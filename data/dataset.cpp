#include "data/dataset.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/printable.h"
#include "data/parse.h"
#include "kernels/augment_rule.h"

namespace ember::data {

namespace {

Shape image_shape(int64_t n) { return {n, kernels::kImageChannels, kernels::kImageSide, kernels::kImageSide}; }

// The labels on the host (one copy when they live on a GPU).
std::vector<int64_t> host_labels(const Dataset& d) { return d.labels.to_vector<int64_t>(); }

int64_t parse_class_id(const std::string& text, const std::string& whole, int classes) {
  int64_t v = -1;
  EMBER_USAGE_CHECK(parse_int64(text, &v) && v >= 0 && v < classes,
                    "bad class list '{}': '{}' is not a class id in 0-{}", printable(whole), printable(text),
                    classes - 1);
  return v;
}

}  // namespace

const std::vector<std::string>& cifar10_class_names() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                 "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

Dataset empty_dataset(int64_t n) { return {zeros(image_shape(n), DType::UInt8), zeros({n}, DType::Int64)}; }

void check_dataset(const Dataset& d, const std::string& what) {
  EMBER_CHECK(d.images.defined() && d.labels.defined(), "{}: images or labels missing", what);
  EMBER_CHECK(d.images.dtype() == DType::UInt8 && d.images.dim() == 4 &&
                  d.images.sizes() == image_shape(d.images.size(0)) && d.images.is_contiguous(),
              "{}: images must be contiguous uint8 [n, 3, 32, 32], got {} {}", what, dtype_name(d.images.dtype()),
              shape_str(d.images.sizes()));
  EMBER_CHECK(d.labels.dtype() == DType::Int64 && d.labels.dim() == 1 && d.labels.is_contiguous() &&
                  d.labels.size(0) == d.images.size(0),
              "{}: labels must be contiguous int64 [{}], got {} {}", what, d.images.size(0),
              dtype_name(d.labels.dtype()), shape_str(d.labels.sizes()));
  EMBER_CHECK(d.images.device() == d.labels.device(), "{}: images on {} but labels on {}", what,
              d.images.device().str(), d.labels.device().str());
}

Dataset to_device(const Dataset& d, Device device) { return {d.images.to(device), d.labels.to(device)}; }

Dataset select(const Dataset& d, const std::vector<int64_t>& indices) {
  check_dataset(d);
  const Dataset src = to_device(d, Device::cpu());
  const int64_t n = static_cast<int64_t>(indices.size());
  Dataset out = empty_dataset(n);
  const auto* in_px = src.images.data<uint8_t>();
  const auto* in_lb = src.labels.data<int64_t>();
  auto* px = out.images.data<uint8_t>();
  auto* lb = out.labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = indices[i];
    EMBER_CHECK(j >= 0 && j < src.size(), "select: index {} out of range for a data set of {} samples", j, src.size());
    std::memcpy(px + i * kernels::kImageBytes, in_px + j * kernels::kImageBytes, kernels::kImageBytes);
    lb[i] = in_lb[j];
  }
  return to_device(out, d.device());
}

Dataset head(const Dataset& d, int64_t n) {
  check_dataset(d);
  n = std::clamp<int64_t>(n, 0, d.size());
  return {d.images.slice(0, 0, n), d.labels.slice(0, 0, n)};
}

std::vector<int64_t> indices_of_classes(const Dataset& d, const std::vector<int64_t>& classes) {
  const std::vector<int64_t> labels = host_labels(d);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < static_cast<int64_t>(labels.size()); ++i)
    if (std::find(classes.begin(), classes.end(), labels[i]) != classes.end()) out.push_back(i);
  return out;
}

Dataset map_labels(const Dataset& d, const std::vector<int64_t>& mapping) {
  std::vector<int64_t> labels = host_labels(d);
  for (size_t i = 0; i < labels.size(); ++i) {
    EMBER_CHECK(labels[i] >= 0 && labels[i] < static_cast<int64_t>(mapping.size()),
                "map_labels: label {} of sample {} has no entry in a mapping of {} classes", labels[i], i,
                mapping.size());
    labels[i] = mapping[labels[i]];
  }
  const int64_t n = static_cast<int64_t>(labels.size());
  return {d.images, from_vector(labels, {n}).to(d.device())};
}

std::vector<int64_t> label_histogram(const Dataset& d, int classes) {
  std::vector<int64_t> counts(classes, 0);
  const std::vector<int64_t> labels = host_labels(d);
  for (size_t i = 0; i < labels.size(); ++i) {
    EMBER_CHECK(labels[i] >= 0 && labels[i] < classes, "label {} of sample {} is outside 0-{}", labels[i], i,
                classes - 1);
    counts[labels[i]]++;
  }
  return counts;
}

std::vector<int64_t> parse_class_list(const std::string& text, int classes) {
  std::vector<int64_t> out;
  for (const std::string& item : split(text, ',')) {
    const size_t dash = item.find('-');
    if (dash == std::string::npos) {
      out.push_back(parse_class_id(item, text, classes));
    } else {
      const int64_t lo = parse_class_id(item.substr(0, dash), text, classes);
      const int64_t hi = parse_class_id(item.substr(dash + 1), text, classes);
      EMBER_USAGE_CHECK(lo <= hi, "bad class list '{}': range '{}' runs backwards", printable(text),
                        printable(item));
      for (int64_t c = lo; c <= hi; ++c) out.push_back(c);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace ember::data
