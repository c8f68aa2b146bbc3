// The per-epoch order of a data set's samples.
#pragma once

#include <cstdint>
#include <vector>

namespace ember::data {

// The samples of epoch `epoch` in the order a loader visits them: 0..n-1 without shuffle,
// else a uniformly random permutation that depends only on (seed, epoch): Fisher-Yates where
// slot i (from n-1 down to 1) swaps with slot floor(u * (i + 1) / 2^64), u the 64-bit Philox
// number of counter i of the shuffle stream (Note [data random streams] in
// kernels/augment_rule.h). Computed on the host: O(n), about 0.5 ms for 50,000 samples.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle = true);

}  // namespace ember::data
