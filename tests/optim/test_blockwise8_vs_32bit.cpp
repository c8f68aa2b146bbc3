// The 8-bit optimisers (adam8bit, adamw8bit, sgd8bit, lion8bit) follow their 32-bit
// counterparts on ember-paths' test functions (apps/ember-paths/test_functions.h): a batch of
// kProblems independent 2-D problems laid out as one [2, kProblems] parameter (row 0 the x's,
// row 1 the y's; 8,204 elements, so the state is 8-bit: 33 blocks, the last of 12 elements),
// each started near ember-paths' default start, both optimisers for 500 steps from the same
// points. At every step (Lion: at the end), the distances between the 8-bit and 32-bit points
// stay within a bound derived from the quantisation error (Note [8-bit vs 32-bit bound]); the 8-bit run
// makes progress, and it does differ from the 32-bit run (a path that silently ran with
// float32 state would be bit-identical and fail).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "apps/ember-paths/test_functions.h"
#include "core/generator.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "kernels/optim_blockwise8_rule.h"
#include "optim/optimizer.h"
#include "optim/state8bit.h"

namespace ember {
namespace {

constexpr int64_t kProblems = 4102;
constexpr int kSteps = 500;

// The sum of `function` over the batch, built from ember's autograd ops; the same formulas as
// ember-paths' loss, whose library exposes only a 2-element point. Checked against
// paths::value_of (the library's definition) problem by problem in Follow() below.
// ember-paths' default start moved by up to 0.1 in x and y per problem (as ember-train's
// function workload moves its repeats), so that each block holds a spread of values.
std::vector<float> starts() {
  Generator gen(17);
  Tensor offsets = empty({2, kProblems});
  uniform_(offsets, -0.1, 0.1, &gen);
  std::vector<float> v = offsets.to_vector<float>();
  for (int64_t i = 0; i < kProblems; ++i) {
    v[i] += static_cast<float>(paths::kDefaultStart[0]);
    v[kProblems + i] += static_cast<float>(paths::kDefaultStart[1]);
  }
  return v;
}

// The mean of the function over the batch, in double, by the library's own definition.
double mean_value(const std::string& function, const std::vector<float>& xy) {
  double total = 0;
  for (int64_t i = 0; i < kProblems; ++i) total += paths::value_of(function, xy[i], xy[kProblems + i]);
  return total / kProblems;
}

// One optimiser on the batch: the points before the first step and after every step.
std::vector<std::vector<float>> trajectory(const std::string& function, const std::string& spec,
                                           int64_t* quantised = nullptr) {
  Tensor xy = from_vector(starts(), {2, kProblems});
  xy.set_requires_grad(true);
  optim::FlatParameters flat({{"xy", xy}}, Device::cpu());
  auto opt = optim::make_optimizer(spec, flat);
  if (quantised) *quantised = optim::state8bit_counts(*opt).quantised;
  std::vector<std::vector<float>> points{xy.to_vector<float>()};
  for (int t = 0; t < kSteps; ++t) {
    opt->zero_grad();
    paths::loss_of(function, xy).backward();
    opt->step();
    points.push_back(xy.to_vector<float>());
  }
  return points;
}

// The largest gap between neighbouring entries of a map, as a fraction of the block absmax.
double largest_gap(bool is_signed) {
  float map[kernels::kQuantMapSize];
  kernels::dynamic_quant_map(is_signed, map);
  double gap = 0;
  for (int k = 1; k < kernels::kQuantMapSize; ++k) gap = std::max(gap, double(map[k]) - map[k - 1]);
  return gap;
}

// Note [8-bit vs 32-bit bound]
// Requantising moves a state element by at most half the map's largest gap times its block's
// absmax: rho = 0.0070 for the signed map of the momentum (half that for the unsigned map of
// Adam's second moment). SGD's step is lr * momentum, so quantisation moves a step by at most
// rho times its block's largest step U_t; summed over the run without contraction, the points
// move apart by at most rho * L, with L = sum_t U_t over the 32-bit run (its path length in
// the max norm). Adam divides each element's momentum by its own sqrt(v), so an element
// smaller than its block's largest gets a larger relative error (a block of these problems
// spans a factor of a few), and the curved valleys of Rosenbrock and Beale amplify a
// deviation before they contract it. Measured at every step (SGD, Adam, AdamW): the mean
// distance over the batch up to 3.1 rho L (Adam on Beale), the largest up to 13.7 rho L (AdamW
// on Beale, early in the run; SGD at most 1.5 and 2.7). Bounds: mean <= 5 rho L, max <= 20 rho L at every
// step. Not vacuous: L is 2 to 6 here and the points travel about 2.5, of which 20 rho L is
// 0.14 L; a wrong map, absmax, block layout or a state lost between steps changes every step
// by a fraction of itself, far more than rho.
//
// Lion's step is a sign, so its path leaves the 32-bit one only where the sign flips: not at
// all while the problems travel, then in a transient once some elements of a block oscillate
// about the minimum while others still travel. Their small momenta are stored in the map's
// lower decades, whose relative spacing exceeds 1 - beta2: an update rounds back to the same
// entry, the momentum stays stale, and the element walks on by lr per step until its gradient
// outweighs it (measured: up to 74 lr apart, the quadratic at step 300). The block's absmax
// falls with its elements and the paths meet again, so Lion is held to the same bounds at the
// end of the run (measured: mean up to 1.3 rho L, max 9.9 rho L, Beale).
constexpr double kMeanFactor = 5, kMaxFactor = 20;

struct Case {
  const char* function;
  std::string spec32;  // the 8-bit spec inserts "8bit" after the name
  bool every_step;     // false: the bound is checked at the end (Lion's transient, above)
};

// Learning rates at which each optimiser reaches a loss well below the start within kSteps.
// SGD is not run on Beale: from this start its problems near the ridge between Beale's two
// valleys fall into one or the other for any perturbation, float32 rounding included.
const std::vector<Case> kCases = {
    {"rosenbrock", "adam:lr=0.1", true},
    {"rosenbrock", "adamw:lr=0.1,weight_decay=0.01", true},
    {"rosenbrock", "sgd:lr=0.0005,momentum=0.9", true},
    {"rosenbrock", "lion:lr=0.01", false},
    {"beale", "adam:lr=0.1", true},
    {"beale", "adamw:lr=0.1,weight_decay=0.01", true},
    {"beale", "lion:lr=0.01", false},
    {"quadratic", "adam:lr=0.1", true},
    {"quadratic", "adamw:lr=0.1,weight_decay=0.01", true},
    {"quadratic", "sgd:lr=0.0005,momentum=0.9", true},
    {"quadratic", "lion:lr=0.01", false},
};

// One CPU thread: each op here is a few thousand elements, below what OpenMP threads pay off
// for, and on a busy machine (ctest -j2 on two cores) their barriers wait for time slices.
struct OneThread {
  const int before = num_threads();
  OneThread() { set_num_threads(1); }
  ~OneThread() { set_num_threads(before); }
};

TEST(Blockwise8Vs32bit, EachFollowsItsFloat32CounterpartOnEmberPathsFunctions) {
  const OneThread one_thread;
  const double rho = largest_gap(true) / 2;
  ASSERT_GT(rho, 0.005);
  ASSERT_LT(rho, 0.01);
  for (const Case& c : kCases) {
    std::string spec8 = c.spec32;
    spec8.insert(spec8.find(':'), "8bit");
    SCOPED_TRACE(std::string(c.function) + ": " + spec8);
    int64_t quantised = 0;
    const auto p8 = trajectory(c.function, spec8, &quantised), p32 = trajectory(c.function, c.spec32);
    ASSERT_EQ(quantised, 1);  // the batch keeps 8-bit state

    // The batched loss is the library's function, problem by problem (float32 sums of float32
    // terms: 1e-4 relative).
    Tensor xy = from_vector(p8[0], {2, kProblems});
    const double start = mean_value(c.function, p8[0]);
    EXPECT_NEAR(paths::loss_of(c.function, xy).item() / kProblems, start, 1e-4 * start);

    double path = 0, worst_mean = 0, worst_max = 0;  // worst: as a multiple of rho * path
    for (int t = 1; t <= kSteps; ++t) {
      double step = 0, mean = 0, max = 0;
      for (size_t i = 0; i < p32[t].size(); ++i) step = std::max(step, double(std::fabs(p32[t][i] - p32[t - 1][i])));
      path += step;
      for (int64_t i = 0; i < kProblems; ++i) {
        const double d = std::hypot(double(p8[t][i]) - p32[t][i], double(p8[t][kProblems + i]) - p32[t][kProblems + i]);
        mean += d / kProblems;
        max = std::max(max, std::isnan(d) ? INFINITY : d);
      }
      if (!c.every_step && t < kSteps) continue;
      worst_mean = std::max(worst_mean, std::isnan(mean) ? INFINITY : mean / (rho * path));
      worst_max = std::max(worst_max, max / (rho * path));
    }
    EXPECT_LE(worst_mean, kMeanFactor) << "mean distance, as a multiple of rho L (L = " << path << ")";
    EXPECT_LE(worst_max, kMaxFactor) << "largest distance, as a multiple of rho L (L = " << path << ")";
    // Not a float32 run in disguise: the points differ by more than rounding (a float32 run
    // would be bit-identical; measured at least 0.8 rho L).
    EXPECT_GT(worst_max, 0.05) << "the 8-bit run is (nearly) the 32-bit one";
    // Progress: the mean loss falls to under 5% of the start.
    const double end = mean_value(c.function, p8[kSteps]);
    EXPECT_LT(end, 0.05 * start) << "start " << start << ", after " << kSteps << " steps " << end;
    RecordProperty(std::string(c.function) + " " + spec8,
                   "mean " + std::to_string(worst_mean) + ", max " + std::to_string(worst_max) + " rho L");
  }
}

}  // namespace
}  // namespace ember
