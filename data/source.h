// One entry point from a `--data` string to train and test sets. Of the three similar names:
// this header gives the data sets, data/loader.h (Loader) cuts a data set into batches epoch by
// epoch, and data/producer.h is the Loader's internal worker that makes each batch ahead of
// time (BatchSource in data/augment.h is what one batch is cut from, not a --data source).
#pragma once

#include <cstdint>
#include <string>

#include "data/dataset.h"

namespace ember::data {

// `spec` is one of
//   DIR                 CIFAR-10 binaries in DIR or DIR/cifar-10-batches-bin/ (load_cifar10)
//   synthetic           synthetic data of CIFAR-10's size (50,000 train, 10,000 test)
//   synthetic:N,M       synthetic data, N train and M test images
// limit_train / limit_test >= 0 keep only the first so many images of each split (synthetic
// data is then generated only that far); < 0 keeps all. `synthetic_seed` seeds the synthetic
// generator (the same seed gives the same images). Data sets are on the CPU. The result's
// description says in one line what was loaded. Bad spec strings are UsageError; missing or
// broken files are Error (data/cifar10.h).
DataSplits load_data(const std::string& spec, int64_t limit_train = -1, int64_t limit_test = -1,
                     uint64_t synthetic_seed = 0);

}  // namespace ember::data
