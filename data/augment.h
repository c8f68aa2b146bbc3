// Augmentation and normalisation of CIFAR batches: the options, and augment_batch, the one
// function that turns samples of a (device-resident) uint8 data set into a float NCHW batch
// on the CPU (OpenMP over images) or on a GPU (kernels/augment.cu). Both executors apply the
// rules of kernels/augment_rule.h, so their batches are bit-identical.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "data/dataset.h"
#include "kernels/augment_rule.h"

namespace ember::data {

// none: the image as is. standard: random crop of the image padded by 4 zero pixels + random
// horizontal flip (torchvision's RandomCrop(32, padding=4), RandomHorizontalFlip()).
enum class Augment { None, Standard };

Augment parse_augment(const std::string& text);  // "none" | "standard"; UsageError otherwise
const char* augment_name(Augment a);

// Per-channel (pixel / 255 - mean) / std.
struct Normalization {
  std::array<double, 3> mean{0.5, 0.5, 0.5};
  std::array<double, 3> std{0.5, 0.5, 0.5};

  static Normalization half();   // 0.5 / 0.5 (values in [-1, 1]), as in the seed script
  static Normalization cifar();  // CIFAR-10 channel statistics: 0.4914,0.4822,0.4465 / 0.2470,0.2435,0.2616
  std::string str() const;       // "mean 0.5,0.5,0.5 std 0.5,0.5,0.5"
};

// "half" | "cifar" | "M,M,M/S,S,S" (three means, three positive stds). UsageError otherwise.
Normalization parse_normalization(const std::string& text);

// kernels::kNormalizeTableSize floats on `device`: entry c*256+v is the normalised byte v of
// channel c (kernels::fill_normalize_table).
Tensor normalize_table(const Normalization& n, Device device);

kernels::AugmentParams augment_params(Augment a, uint64_t seed, int64_t epoch);

// What one batch is made of: the data set (on the executing device), the epoch's order
// (int64 [n] on that device: order[p] is the sample at position p), and the normalisation
// table (normalize_table on that device).
struct BatchSource {
  Dataset data;
  Tensor order;
  Tensor table;
};

// Writes the samples at positions [first, first + count) of the order into out_images
// (float32 [count, 3, 32, 32], contiguous) and out_labels (int64 [count]), all on one device.
// CPU: synchronous. CUDA: queued on `stream` (a cudaStream_t; null means ember's stream).
void augment_batch(const BatchSource& src, int64_t first, int64_t count, const kernels::AugmentParams& params,
                   const Tensor& out_images, const Tensor& out_labels, void* stream = nullptr);

}  // namespace ember::data
