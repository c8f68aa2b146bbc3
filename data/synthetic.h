// Synthetic CIFAR-shaped data: a stand-in for CIFAR-10 where the real files are absent.
//
// Each image shows a disc of oriented stripes on a flat background, with pixel noise. A class
// fixes three things, each with a per-image jitter: the stripe orientation (5 directions, 36
// degrees apart), the stripe period (about 4 or 7.5 pixels) and the colour axis the stripes
// swing along (10 RGB directions). Everything else is drawn per image: the disc's centre and
// radius, the stripes' phase and contrast, the colours of the disc and the background, the
// noise. Both the disc and the background colour are uniform around mid-grey for every class,
// so one pixel carries almost nothing about the class (its class-conditional mean is the same
// for all classes), while the local structure a convolution sees identifies it.
//
// Deterministic per seed: every number comes from the Philox data streams (Note [data random
// streams] in kernels/augment_rule.h, kinds 3 and 4, with the split as the epoch word), so
// the same seed gives the same bytes on every run and whatever the thread count. Labels are
// balanced: image i has label i % 10.
#pragma once

#include <cstdint>

#include "data/dataset.h"

namespace ember::data {

constexpr int64_t kSyntheticDefaultTrain = 50000;  // the size of CIFAR-10, so that recipes carry over
constexpr int64_t kSyntheticDefaultTest = 10000;

enum class SyntheticSplit : uint32_t { Train = 0, Test = 1 };

// Writes the 3072 CHW bytes of image `index` of `split` with class `label` (0-9).
void synthetic_image(uint64_t seed, SyntheticSplit split, int64_t index, int label, uint8_t* out);
// n images of one split (on the CPU, OpenMP over images).
Dataset make_synthetic_split(int64_t n, uint64_t seed, SyntheticSplit split);
DataSplits make_synthetic(int64_t n_train, int64_t n_test, uint64_t seed);

}  // namespace ember::data
