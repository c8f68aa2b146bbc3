// The statistics of a comparison: per optimiser the mean, standard deviation and a bootstrap
// 95% confidence interval of a figure over its repeats; per pair the difference of the means
// with its interval and a one-line verdict.
//
// Note [bootstrap intervals]
// Percentile bootstrap (Efron & Tibshirani 1993, ch. 13): draw `resamples` samples of n values
// with replacement, take each one's mean, and report the (1-level)/2 and (1+level)/2 quantiles
// of those means (linear interpolation between order statistics, numpy's default). Resample b,
// draw i picks index floor(w * n / 2^32) of Philox word w = philox4x32_10(seed, b * n + i).w[0]
// (bootstrap_index): fixed by the seed, so the same results give the same interval on every
// machine. A difference of two optimisers is paired when both have the same number of runs
// (repeat r of every optimiser starts from the same weights and batch order, so the pair
// differences remove that shared noise): the difference of repeat r is resampled. Otherwise
// the two samples are resampled independently and the means subtracted. With fewer than 2
// values there is no interval (NaN) and the verdict says so. With few repeats the percentile
// interval is too narrow (it covers less than 95%: about 90% at n = 5, 93% at n = 30 for
// normal data); the verdict states the number of runs so a reader can weigh it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ember::compare {

struct BootstrapOptions {
  int resamples = 10000;
  double level = 0.95;
  uint64_t seed = 0x424F4F54ull;  // "BOOT": fixed, so intervals repeat exactly
};

struct Estimate {
  int n = 0;  // finite values used
  double mean = 0, sd = 0;  // sd: sample standard deviation (n - 1); 0 for n = 1
  double low = 0, high = 0;  // the interval; NaN when n < 2
  bool has_interval() const { return n >= 2; }
};

// The index of draw `draw` of resample `resample` among n values (Note [bootstrap intervals]).
int64_t bootstrap_index(uint64_t seed, int64_t resample, int64_t draw, int64_t n);
// The q-quantile (0 <= q <= 1) of `values` by linear interpolation between order statistics.
double quantile(std::vector<double> values, double q);

// Of the finite values (NaN and Inf are left out: diverged runs, targets not reached).
Estimate estimate(const std::vector<double>& values, const BootstrapOptions& options = {});
// a - b: paired when both have the same number of values (pairs with a non-finite member are
// left out), else independent (Note [bootstrap intervals]).
Estimate difference(const std::vector<double>& a, const std::vector<double>& b, const BootstrapOptions& options = {});

// How a figure is shown in a verdict: accuracy in points (scale 100), seconds, images.
struct Quantity {
  std::string unit = "points";  // after the number: "+2.1 points"
  double scale = 100;           // multiplies values for display
  int decimals = 1;
};
// "adam vs sgd: +2.1 points [0.8, 3.4]" when the interval excludes 0;
// "adam vs sgd: no clear difference at 95% (+0.4 points [-1.0, 1.9])" when it holds 0;
// "adam vs sgd: +0.4 points (1 run each, no interval: use --repeats)" without an interval.
std::string verdict(const std::string& a, const std::string& b, const Estimate& difference, const Quantity& quantity,
                    double level = 0.95);
// Whether the interval of `difference` excludes 0.
bool is_clear(const Estimate& difference);

}  // namespace ember::compare
