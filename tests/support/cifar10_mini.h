// Where the real CIFAR-10 slice is for the tests that use it (tests/data, tests/apps): a few
// thousand real images kept next to the repository, absent on some machines (those tests
// skip, saying why).
#pragma once

#include <string>

namespace ember::testing {

// The folder of the slice (EMBER_CIFAR10_MINI, else ../shared/data/cifar10-mini next to the
// source tree), or "" when neither holds data_batch_1.bin.
std::string cifar10_mini_dir();

}  // namespace ember::testing
