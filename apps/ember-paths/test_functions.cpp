#include "apps/ember-paths/test_functions.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "apps/common/gnuplot.h"
#include "core/error.h"
#include "core/ops.h"
#include "optim/optimizer.h"

namespace ember::paths {

const std::vector<TestFunction>& test_functions() {
  static const std::vector<TestFunction> functions = {
      {"rosenbrock", "(1-x)**2 + 100*(y-x**2)**2", 1, 1, {-2, 2, -1, 3}},
      {"beale", "(1.5-x+x*y)**2 + (2.25-x+x*y**2)**2 + (2.625-x+x*y**3)**2", 3, 0.5, {-4.5, 4.5, -4.5, 4.5}},
      {"quadratic", "0.5*(x**2 + 10*y**2)", 0, 0, {-3, 3, -2, 2}},
  };
  return functions;
}

std::string test_function_names() {
  std::string names;
  for (const TestFunction& f : test_functions()) names += (names.empty() ? "" : ", ") + std::string(f.name);
  return names;
}

const TestFunction* find_test_function(const std::string& name) {
  for (const TestFunction& f : test_functions())
    if (name == f.name) return &f;
  return nullptr;
}

namespace {

Tensor loss_of(const std::string& function, const Tensor& xy) {
  const Tensor x = xy.slice(0, 0, 1), y = xy.slice(0, 1, 2);
  if (function == "rosenbrock") return sum(square(1.0 - x) + 100.0 * square(y - square(x)));
  if (function == "beale")
    return sum(square(1.5 - x + x * y) + square(2.25 - x + x * square(y)) + square(2.625 - x + x * pow(y, 3.0)));
  return sum(0.5 * (square(x) + 10.0 * square(y)));
}

std::string number(double v) { return fmt::format("{:.9g}", v); }

}  // namespace

double value_of(const std::string& function, double x, double y) {
  if (function == "rosenbrock") return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
  if (function == "beale") {
    const double a = 1.5 - x + x * y, b = 2.25 - x + x * y * y, c = 2.625 - x + x * y * y * y;
    return a * a + b * b + c * c;
  }
  return 0.5 * (x * x + 10 * y * y);
}

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

void check_spec_on_point(const std::string& spec) {
  Tensor point = zeros({2});
  point.set_requires_grad(true);
  optim::FlatParameters flat({{"xy", point}}, Device::cpu());
  optim::make_optimizer(spec, flat);  // e.g. muon: the point is a vector, not a weight matrix
}

void plot_paths(const TestFunction& f, const std::vector<std::string>& labels,
                const std::vector<std::vector<Point>>& paths, const std::string& file) {
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
    script += fmt::format(", $path{} with linespoints pt 7 ps 0.3 lw 1.5 title {}", k, apps::gnuplot_quote(labels[k]));
  script += fmt::format(", '-' with points pt 3 ps 2.5 lc rgb 'black' title 'minimum'\n{} {}\ne\n", f.min_x, f.min_y);
  apps::run_gnuplot(script, file);
}

}  // namespace ember::paths
