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
#include "core/ops.h"
#include "core/parallel.h"
#include "optim/optimizer.h"

namespace {

using namespace ember;

// A test function: its loss in ember ops, the same in gnuplot syntax and in double, its
// minimum, and the box the picture shows by default.
struct TestFunction {
  const char* name;
  const char* gnuplot;
  double min_x, min_y;
  double box[4];  // xmin, xmax, ymin, ymax
};

const TestFunction kFunctions[] = {
    {"rosenbrock", "(1-x)**2 + 100*(y-x**2)**2", 1, 1, {-2, 2, -1, 3}},
    {"beale", "(1.5-x+x*y)**2 + (2.25-x+x*y**2)**2 + (2.625-x+x*y**3)**2", 3, 0.5, {-4.5, 4.5, -4.5, 4.5}},
    {"quadratic", "0.5*(x**2 + 10*y**2)", 0, 0, {-3, 3, -2, 2}},
};

Tensor loss_of(const std::string& function, const Tensor& xy) {
  const Tensor x = xy.slice(0, 0, 1), y = xy.slice(0, 1, 2);
  if (function == "rosenbrock") return sum(square(1.0 - x) + 100.0 * square(y - square(x)));
  if (function == "beale")
    return sum(square(1.5 - x + x * y) + square(2.25 - x + x * square(y)) + square(2.625 - x + x * pow(y, 3.0)));
  return sum(0.5 * (square(x) + 10.0 * square(y)));
}

double value_of(const std::string& function, double x, double y) {
  if (function == "rosenbrock") return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
  if (function == "beale") {
    const double a = 1.5 - x + x * y, b = 2.25 - x + x * y * y, c = 2.625 - x + x * y * y * y;
    return a * a + b * b + c * c;
  }
  return 0.5 * (x * x + 10 * y * y);
}

const TestFunction& find_function(const std::string& name) {
  for (const TestFunction& f : kFunctions)
    if (name == f.name) return f;
  throw UsageError(__FILE__, __LINE__, fmt::format("unknown function '{}'; valid: rosenbrock, beale, quadratic", name));
}

struct Point {
  double x, y, loss;
};

// One optimiser's path: steps + 1 points, the start first.
std::vector<Point> run_path(const std::string& function, const std::string& spec, double x0, double y0, int64_t steps,
                            Device device) {
  Tensor xy = from_vector<float>({static_cast<float>(x0), static_cast<float>(y0)}, {2}, TensorOptions().device(device));
  xy.set_requires_grad(true);
  optim::FlatParameters flat({{"xy", xy}}, device);
  auto optimizer = optim::make_optimizer(spec, flat);
  std::vector<Point> path;
  for (int64_t t = 0;; ++t) {
    optimizer->zero_grad();
    const Tensor loss = loss_of(function, xy);
    const std::vector<float> p = xy.to_vector<float>();
    path.push_back({p[0], p[1], loss.item()});
    if (t == steps) break;
    loss.backward();
    optimizer->step();
  }
  return path;
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

void plot(const TestFunction& f, const std::vector<std::string>& specs, const std::vector<std::vector<Point>>& paths,
          const std::string& file) {
  // The box: the function's default, widened to show the paths (at most 4x the default, so
  // a diverging path does not squash the picture).
  double box[4] = {f.box[0], f.box[1], f.box[2], f.box[3]};
  const double w = box[1] - box[0], h = box[3] - box[2];
  for (const auto& path : paths)
    for (const Point& p : path) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      box[0] = std::max(std::min(box[0], p.x), f.box[0] - 1.5 * w);
      box[1] = std::min(std::max(box[1], p.x), f.box[1] + 1.5 * w);
      box[2] = std::max(std::min(box[2], p.y), f.box[2] - 1.5 * h);
      box[3] = std::min(std::max(box[3], p.y), f.box[3] + 1.5 * h);
    }
  // Contour levels spaced evenly in log(loss) between the smallest and largest values seen
  // on a grid over the box: valleys and slopes both get lines.
  double lo = std::numeric_limits<double>::max(), hi = 0;
  for (int i = 0; i <= 100; ++i)
    for (int j = 0; j <= 100; ++j) {
      const double v = value_of(f.name, box[0] + (box[1] - box[0]) * i / 100, box[2] + (box[3] - box[2]) * j / 100);
      if (v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
    }
  lo = std::max(lo, hi * 1e-8);
  std::string levels;
  for (int k = 0; k < 18; ++k) levels += fmt::format("{}{:.6g}", k ? "," : "", lo * std::pow(hi / lo, (k + 0.5) / 18));

  std::string script = fmt::format(
      "set terminal pngcairo size 1000,800 font ',11'\nset output {}\n"
      "set title {}\nset xlabel 'x'\nset ylabel 'y'\nset key outside right top\n"
      "set xrange [{}:{}]\nset yrange [{}:{}]\n"
      "f(x,y) = {}\nset view map\nset contour base\nunset surface\nset isosamples 200,200\n"
      "set cntrparam levels discrete {}\nset table $contours\nsplot f(x,y)\nunset table\nunset contour\n",
      apps::gnuplot_quote(file), apps::gnuplot_quote(std::string(f.name) + ": optimiser paths"), box[0], box[1], box[2],
      box[3], f.gnuplot, levels);
  for (size_t k = 0; k < paths.size(); ++k) {
    script += fmt::format("$path{} << EOD\n", k);
    for (const Point& p : paths[k])
      if (std::isfinite(p.x) && std::isfinite(p.y)) script += fmt::format("{} {}\n", number(p.x), number(p.y));
    script += "EOD\n";
  }
  script += "plot $contours with lines lc rgb '#c8c8c8' notitle";
  for (size_t k = 0; k < paths.size(); ++k)
    script += fmt::format(", $path{} with linespoints pt 7 ps 0.3 lw 1.5 title {}", k, apps::gnuplot_quote(specs[k]));
  script += fmt::format(", '-' with points pt 3 ps 2.5 lc rgb 'black' title 'minimum'\n{} {}\ne\n", f.min_x, f.min_y);
  apps::run_gnuplot(script, file);
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
  for (const std::string& s : specs) {  // every usage error before any work
    Tensor point = zeros({2});
    point.set_requires_grad(true);
    optim::FlatParameters flat({{"xy", point}}, Device::cpu());
    optim::make_optimizer(s, flat);  // e.g. muon: the point is a vector, not a weight matrix
  }
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
  for (const std::string& s : specs) paths.push_back(run_path(f.name, s, x0, y0, o.steps, device));

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
    plot(f, specs, paths, o.plot_file);
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
