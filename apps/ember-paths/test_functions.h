// The 2-D test functions of ember-paths (Rosenbrock, Beale, a quadratic) and an optimiser's
// path on one: the point (x, y) is a 2-element parameter in FlatParameters, the loss is built
// from ember's autograd ops and every step is the same Optimizer::step() that trains
// networks. A library, so that ember-train's --workload runs the same functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/device.h"

namespace ember::paths {

// A test function: the same in gnuplot syntax, its minimum (value 0), and the box the
// picture shows by default.
struct TestFunction {
  const char* name;
  const char* gnuplot;
  double min_x, min_y;
  double box[4];  // xmin, xmax, ymin, ymax
};

// rosenbrock, beale, quadratic.
const std::vector<TestFunction>& test_functions();
// "rosenbrock, beale, quadratic": for help texts and errors.
std::string test_function_names();
// nullptr when `name` is none of them.
const TestFunction* find_test_function(const std::string& name);
// The function at (x, y), in double.
double value_of(const std::string& function, double x, double y);

struct Point {
  double x, y, loss;
};
// ember-paths' default start, (-1.5, 2).
constexpr double kDefaultStart[2] = {-1.5, 2.0};

// One optimiser's path: steps + 1 points, the start first.
std::vector<Point> run_path(const std::string& function, const std::string& spec, double x0, double y0, int64_t steps,
                            Device device);
// Builds `spec` on a 2-element point: UsageError for a spec that cannot optimise one (muon
// and hybrids need weight matrices).
void check_spec_on_point(const std::string& spec);

// Draws the function's contours and every path into the PNG `file` through gnuplot
// (ember::Error when gnuplot fails; the caller checks that it is installed).
void plot_paths(const TestFunction& f, const std::vector<std::string>& labels,
                const std::vector<std::vector<Point>>& paths, const std::string& file);

}  // namespace ember::paths
