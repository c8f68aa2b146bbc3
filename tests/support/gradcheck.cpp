#include "tests/support/gradcheck.h"

#include <cmath>
#include <sstream>

#include "core/autograd/grad_mode.h"
#include "core/generator.h"
#include "core/ops.h"

namespace ember::testing {

Tensor random_leaf(const Shape& shape, uint64_t seed, double low, double high) {
  Generator gen(seed);
  Tensor t = empty(shape, DType::Float64);
  uniform_(t, low, high, &gen);
  t.set_requires_grad(true);
  return t;
}

::testing::AssertionResult gradcheck(const Function& f, const std::vector<Tensor>& inputs, GradcheckOptions options) {
  for (const Tensor& x : inputs) {
    if (x.dtype() != DType::Float64 || !x.device().is_cpu() || !x.is_contiguous() || !x.requires_grad() || !x.is_leaf())
      return ::testing::AssertionFailure() << "gradcheck inputs must be contiguous float64 CPU leaves requiring grad";
    x.set_grad(Tensor());
  }
  Tensor out = f(inputs);
  if (!out.requires_grad()) return ::testing::AssertionFailure() << "output does not require grad";
  Generator gen(options.weight_seed);
  Tensor w = empty(out.sizes(), DType::Float64);
  uniform_(w, 0.5, 1.5, &gen);
  sum(out * w).backward();

  auto loss = [&]() {
    NoGradGuard no_grad;
    return sum(f(inputs) * w).item();
  };
  std::ostringstream report;
  int bad = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    const Tensor analytic = x.grad().defined() ? x.grad() : zeros_like(x);
    if (analytic.sizes() != x.sizes())
      return ::testing::AssertionFailure() << "input " << k << ": gradient shape " << shape_str(analytic.sizes());
    const std::vector<double> a = analytic.to_vector<double>();
    double* data = x.data<double>();
    for (int64_t j = 0; j < x.numel(); ++j) {
      const double saved = data[j];
      data[j] = saved + options.eps;
      const double plus = loss();
      data[j] = saved - options.eps;
      const double minus = loss();
      data[j] = saved;
      const double numeric = (plus - minus) / (2 * options.eps);
      if (!(std::fabs(a[j] - numeric) <= options.atol + options.rtol * std::fabs(numeric))) {
        if (bad < 5) report << "\n  input " << k << "[" << j << "]: autograd " << a[j] << ", numeric " << numeric;
        ++bad;
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " gradient elements differ from finite differences" << report.str();
}

}  // namespace ember::testing
