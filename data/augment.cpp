#include "data/augment.h"

#include "core/error.h"
#include "core/printable.h"
#include "core/parallel.h"
#include "data/cuda_hooks.h"
#include "data/parse.h"

namespace ember::data {

namespace {

using kernels::kImageBytes;
using kernels::kImageChannels;
using kernels::kImageSide;

// The CPU executor: the CUDA kernel's loop nest, one image per OpenMP iteration.
// The thread count is passed explicitly: the loader's worker thread does not inherit the
// caller's omp_set_num_threads (an OpenMP ICV is per thread).
void augment_batch_cpu(const kernels::AugmentBatchArgs& a) {
  const int threads = num_threads();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t b = 0; b < a.count; ++b) {
    const int64_t position = a.first + b;
    const int64_t src = a.order[position];
    const uint8_t* image = a.images + src * kImageBytes;
    const kernels::AugmentDraw d = kernels::augment_draw(a.params, position);
    a.out_labels[b] = a.labels[src];
    float* out = a.out_images + b * kImageBytes;
    for (int c = 0; c < kImageChannels; ++c)
      for (int y = 0; y < kImageSide; ++y)
        for (int x = 0; x < kImageSide; ++x) *out++ = kernels::augment_pixel(image, a.table, d, c, y, x);
  }
}

}  // namespace

Augment parse_augment(const std::string& text) {
  if (text == "none") return Augment::None;
  if (text == "standard") return Augment::Standard;
  throw UsageError(__FILE__, __LINE__, fmt::format("bad augmentation '{}': expected none or standard", text));
}

const char* augment_name(Augment a) { return a == Augment::Standard ? "standard" : "none"; }

Normalization Normalization::half() { return {}; }

Normalization Normalization::cifar() { return {{0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616}}; }

std::string Normalization::str() const {
  return fmt::format("mean {},{},{} std {},{},{}", mean[0], mean[1], mean[2], std[0], std[1], std[2]);
}

Normalization parse_normalization(const std::string& text) {
  if (text == "half") return Normalization::half();
  if (text == "cifar") return Normalization::cifar();
  const std::vector<std::string> halves = split(text, '/');
  Normalization n;
  bool ok = halves.size() == 2;
  for (int h = 0; ok && h < 2; ++h) {
    const std::vector<std::string> v = split(halves[h], ',');
    ok = v.size() == 3;
    for (int c = 0; ok && c < 3; ++c) {
      double& value = h == 0 ? n.mean[c] : n.std[c];
      ok = parse_double(v[c], &value) && (h == 0 || value > 0);
    }
  }
  EMBER_USAGE_CHECK(ok, "bad normalisation '{}': expected half, cifar or M,M,M/S,S,S (three means, three stds > 0)",
                    printable(text));
  return n;
}

Tensor normalize_table(const Normalization& n, Device device) {
  Tensor table = empty({kernels::kNormalizeTableSize}, DType::Float32);
  kernels::fill_normalize_table(table.data<float>(), n.mean.data(), n.std.data());
  return table.to(device);
}

kernels::AugmentParams augment_params(Augment a, uint64_t seed, int64_t epoch) {
  EMBER_CHECK(epoch >= 0 && epoch <= int64_t(UINT32_MAX), "epoch {} outside 0..2^32-1", epoch);
  kernels::AugmentParams p;
  p.seed = seed;
  p.epoch = static_cast<uint32_t>(epoch);
  p.crop = p.flip = (a == Augment::Standard);
  return p;
}

void augment_batch(const BatchSource& src, int64_t first, int64_t count, const kernels::AugmentParams& params,
                   const Tensor& out_images, const Tensor& out_labels, void* stream) {
  check_dataset(src.data, "augment_batch");
  const Device device = src.data.device();
  const int64_t n = src.data.size();
  EMBER_CHECK(src.order.defined() && src.order.dtype() == DType::Int64 && src.order.dim() == 1 &&
                  src.order.is_contiguous() && src.order.device() == device,
              "augment_batch: the order must be a contiguous int64 vector on {}", device.str());
  EMBER_CHECK(src.table.defined() && src.table.dtype() == DType::Float32 &&
                  src.table.numel() == kernels::kNormalizeTableSize && src.table.is_contiguous() &&
                  src.table.device() == device,
              "augment_batch: the normalisation table must be {} contiguous floats on {}", kernels::kNormalizeTableSize,
              device.str());
  EMBER_CHECK(first >= 0 && count >= 0 && first + count <= src.order.numel(),
              "augment_batch: positions [{}, {}) outside an order of {}", first, first + count, src.order.numel());
  EMBER_CHECK(out_images.dtype() == DType::Float32 && out_images.is_contiguous() && out_images.device() == device &&
                  out_images.sizes() == Shape({count, kImageChannels, kImageSide, kImageSide}),
              "augment_batch: out_images must be contiguous float32 [{}, 3, 32, 32] on {}, got {} {} on {}", count,
              device.str(), dtype_name(out_images.dtype()), shape_str(out_images.sizes()), out_images.device().str());
  EMBER_CHECK(out_labels.dtype() == DType::Int64 && out_labels.is_contiguous() && out_labels.device() == device &&
                  out_labels.sizes() == Shape({count}),
              "augment_batch: out_labels must be contiguous int64 [{}] on {}", count, device.str());
  if (count == 0) return;
  kernels::AugmentBatchArgs a;
  a.images = src.data.images.data<uint8_t>();
  a.labels = src.data.labels.data<int64_t>();
  a.order = src.order.data<int64_t>();
  a.first = first;
  a.count = count;
  a.table = src.table.data<float>();
  a.params = params;
  a.out_images = out_images.data<float>();
  a.out_labels = out_labels.data<int64_t>();
  if (device.is_cuda()) {
    detail::augment_batch_cuda(a, stream);
    return;
  }
  // The GPU kernel trusts the order (checked once per epoch by the loader); here it is cheap.
  for (int64_t p = first; p < first + count; ++p)
    EMBER_CHECK(a.order[p] >= 0 && a.order[p] < n, "augment_batch: order[{}] = {} outside a data set of {}", p,
                a.order[p], n);
  augment_batch_cpu(a);
}

}  // namespace ember::data
