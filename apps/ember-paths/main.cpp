// ember-paths: watch optimisers move on 2-D test functions. The point (x, y) is a 2-element
// parameter in FlatParameters, the loss is built from ember's autograd ops and every step is
// the same Optimizer::step() that trains networks - no separate scalar code path.
//
//   ember-paths --function rosenbrock --optimizer adam:lr=0.05 --optimizer nag:lr=1e-4 --steps 500
//   ember-paths --csv > paths.csv            # optimizer,step,x,y,loss; step 0 is the start
//   ember-paths --plot paths.png             # contours and every path in one PNG (gnuplot)
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "apps/common/app_main.h"
#include "apps/common/gnuplot.h"
#include "apps/ember-paths/test_functions.h"
#include "core/parallel.h"
#include "optim/spec.h"

namespace {

using namespace ember;
using paths::Point;
using paths::TestFunction;

const TestFunction& find_function(const std::string& name) {
  const TestFunction* f = paths::find_test_function(name);
  if (f == nullptr)
    throw UsageError(__FILE__, __LINE__,
                     fmt::format("unknown function '{}'; valid: {}", name, paths::test_function_names()));
  return *f;
}

// A CSV field: quoted when it holds a comma or a quote (RFC 4180).
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string number(double v) { return fmt::format("{:.9g}", v); }

void print_table(const TestFunction& f, const std::vector<std::string>& specs,
                 const std::vector<std::vector<Point>>& paths, int64_t steps) {
  std::printf("%s from (%s, %s), %lld steps; minimum 0 at (%s, %s)\n\n", f.name, number(paths[0][0].x).c_str(),
              number(paths[0][0].y).c_str(), static_cast<long long>(steps), number(f.min_x).c_str(),
              number(f.min_y).c_str());
  size_t width = 9;
  for (const std::string& s : specs) width = std::max(width, s.size());
  std::printf("%-*s  %14s  %14s  %14s  %14s  %s\n", static_cast<int>(width), "optimizer", "x", "y", "loss", "distance",
              "best loss (step)");
  for (size_t k = 0; k < specs.size(); ++k) {
    const Point& end = paths[k].back();
    size_t best = 0;
    for (size_t t = 0; t < paths[k].size(); ++t)
      if (paths[k][t].loss < paths[k][best].loss) best = t;
    const double distance = std::hypot(end.x - f.min_x, end.y - f.min_y);
    std::printf("%-*s  %14.6g  %14.6g  %14.6g  %14.6g  %.6g (%zu)%s\n", static_cast<int>(width), specs[k].c_str(),
                end.x, end.y, end.loss, distance, paths[k][best].loss, best,
                std::isfinite(end.loss) ? "" : "  diverged");
  }
}

struct Options {
  std::string function = "rosenbrock", start = "-1.5,2", plot_file, device = "cpu";
  std::vector<std::string> specs;
  int64_t steps = 500;
  bool csv = false;
  int threads = 1;
};

// The seed's four optimisers (SGD with momentum, Adam, RMSprop, Adagrad) with learning rates
// chosen for Rosenbrock from (-1.5, 2) in 500 steps, so that each shows its character: SGD
// with momentum zig-zags down the valley and reaches the minimum, Adam glides along the
// valley floor, RMSprop's fixed-size steps stall in the flat bottom near (0, 0), Adagrad's
// first steps overshoot and its shrinking steps crawl. The seed's own rates (tuned for a
// ResNet) would send SGD to infinity in two steps and leave Adam far from the valley.
const std::vector<std::string> kDefaultSpecs = {"sgd:lr=0.002,momentum=0.9", "adam:lr=0.1", "rmsprop:lr=0.01",
                                                "adagrad:lr=1"};

int run(const Options& o) {
  set_num_threads(o.threads);
  const TestFunction& f = find_function(o.function);
  const std::vector<std::string> specs = o.specs.empty() ? kDefaultSpecs : o.specs;
  for (const std::string& s : specs) paths::check_spec_on_point(s);  // every usage error before any work
  double x0 = 0, y0 = 0;
  {
    char extra = 0;
    EMBER_USAGE_CHECK(
        std::sscanf(o.start.c_str(), "%lf,%lf%c", &x0, &y0, &extra) == 2 && std::isfinite(x0) && std::isfinite(y0),
        "--start: expected X,Y (two numbers), got '{}'", o.start);
  }
  const Device device = Device::parse(o.device);
  check_device_usable(device);

  std::vector<std::vector<Point>> paths;
  for (const std::string& s : specs) paths.push_back(paths::run_path(f.name, s, x0, y0, o.steps, device));

  if (o.csv) {
    std::printf("optimizer,step,x,y,loss\n");
    for (size_t k = 0; k < specs.size(); ++k)
      for (size_t t = 0; t < paths[k].size(); ++t)
        std::printf("%s,%zu,%s,%s,%s\n", csv_field(specs[k]).c_str(), t, number(paths[k][t].x).c_str(),
                    number(paths[k][t].y).c_str(), number(paths[k][t].loss).c_str());
  } else {
    print_table(f, specs, paths, o.steps);
  }
  if (!o.plot_file.empty()) {
    const std::string missing = apps::gnuplot_missing_reason();
    if (!missing.empty()) {
      std::fprintf(stderr, "ember-paths: %s; %s not written\n", missing.c_str(), o.plot_file.c_str());
      return apps::kExitError;
    }
    paths::plot_paths(f, specs, paths, o.plot_file);
    if (!o.csv) std::printf("\nwrote %s\n", o.plot_file.c_str());
  }
  return apps::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"ember-paths: optimiser paths on 2-D test functions, through ember's autograd and optimisers",
               "ember-paths"};
  app.add_option("--function", o.function, "rosenbrock ((1-x)^2 + 100(y-x^2)^2), beale, or quadratic (0.5(x^2+10y^2))")
      ->capture_default_str();
  app.add_option("--optimizer", o.specs,
                 "optimizer spec NAME[:key=value,...], repeatable; NAME one of " + optim::optimizer_names_text() +
                     " (muon and hybrids A+B need weight matrices, which a 2-D point is not; default: "
                     "sgd:lr=0.002,momentum=0.9, adam:lr=0.1, rmsprop:lr=0.01, adagrad:lr=1 - the seed's four, with "
                     "rates picked for Rosenbrock)");
  app.add_option("--steps", o.steps, "optimizer steps per path")
      ->capture_default_str()
      ->check(CLI::Range(int64_t(0), int64_t(100000000)));
  app.add_option("--start", o.start, "starting point X,Y")->capture_default_str();
  app.add_flag("--csv", o.csv,
               "print optimizer,step,x,y,loss for every step (step 0 is the start) instead of the table");
  app.add_option("--plot", o.plot_file, "also draw the contours and every path into this PNG (needs gnuplot)");
  app.add_option("--device", o.device, "cpu or cuda")->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (0: all cores; a 2-element problem wants 1)")
      ->capture_default_str();
  return ember::apps::run_main(app, argc, argv, [&] { return run(o); });
}
