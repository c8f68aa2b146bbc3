// A scrambled Halton sequence: the quasi-random points of `--tune` (Note [quasi-random search]).
//
// Note [quasi-random search]
// Bousquet et al. 2017 ("Critical hyper-parameters: no random, no cry") showed that a
// low-discrepancy sequence covers a search space more evenly than independent random draws
// at equal budget, and AlgoPerf's external tuning ruleset draws its trials that way. Point i
// of the Halton sequence has as coordinate d the radical inverse of i in the d-th prime
// base: i's digits in base b mirrored behind the point (base 2: 1/2, 1/4, 3/4, 1/8, ...).
// The first b^k points of each coordinate then fall one into each interval [j/b^k, (j+1)/b^k),
// and the first 2^a * 3^c points of coordinates (0, 1) one into each box of the 2^a x 3^c
// grid. In high bases the plain sequence's coordinates move together for small i (bases 29
// and 31 give nearly equal values for i < 29), so each digit position of each coordinate
// passes through its own random permutation of {0..b-1} (Matousek 1998, "random digit
// scrambling"). A permutation of digits maps each of those intervals onto another one, so the
// stratification above holds for the scrambled points too; digits past the index's length are
// permuted zeros, which only move a point inside its smallest interval (and keep point 0 off
// the corner of the box).
#pragma once

#include <cstdint>
#include <vector>

namespace ember::compare {

// The k-th prime (k = 0: 2, 1: 3, 2: 5, ...), for k < kMaxHaltonDimensions.
constexpr int kMaxHaltonDimensions = 32;
uint32_t halton_base(int dimension);

class HaltonSequence {
 public:
  // `dimensions` coordinates (1 to kMaxHaltonDimensions). scramble = false gives the plain
  // Halton sequence; otherwise the digit permutations are drawn from `seed` (Philox).
  HaltonSequence(int dimensions, uint64_t seed, bool scramble = true);

  int dimensions() const { return static_cast<int>(bases_.size()); }
  // Coordinate `dimension` of point `index` (0-based), in [0, 1).
  double coordinate(uint64_t index, int dimension) const;
  std::vector<double> point(uint64_t index) const;

 private:
  std::vector<uint32_t> bases_;
  // permutations_[d][position * base + digit]: the scrambled digit (identity when plain).
  std::vector<std::vector<uint32_t>> permutations_;
  std::vector<int> digits_;  // digit positions per coordinate: base^-digits below 2^-53
};

}  // namespace ember::compare
