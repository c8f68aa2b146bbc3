#include "tests/support/compare.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "core/ops.h"

namespace ember::testing {

::testing::AssertionResult all_close(const Tensor& got, const Tensor& want, double atol, double rtol, bool nan_equal) {
  if (!got.defined() || !want.defined()) return ::testing::AssertionFailure() << "undefined tensor";
  if (got.sizes() != want.sizes())
    return ::testing::AssertionFailure() << "shape " << shape_str(got.sizes()) << " vs expected "
                                         << shape_str(want.sizes());
  const std::vector<double> g = got.detach().to_vector<double>(), w = want.detach().to_vector<double>();
  int64_t bad = 0;
  double max_abs = 0, max_rel = 0;
  std::ostringstream first;
  for (size_t i = 0; i < g.size(); ++i) {
    const double diff = std::fabs(g[i] - w[i]);
    const bool both_nan = std::isnan(g[i]) && std::isnan(w[i]);
    const bool same_inf = std::isinf(g[i]) && g[i] == w[i];
    const bool ok = (nan_equal && both_nan) || same_inf || diff <= atol + rtol * std::fabs(w[i]);
    if (!std::isnan(diff)) {
      max_abs = std::max(max_abs, diff);
      if (w[i] != 0) max_rel = std::max(max_rel, diff / std::fabs(w[i]));
    }
    if (!ok) {
      if (bad < 5) first << "\n  [" << i << "] got " << g[i] << " expected " << w[i];
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << g.size() << " elements differ (atol " << atol << ", rtol "
                                       << rtol << "; max abs err " << max_abs << ", max rel err " << max_rel << ")"
                                       << first.str();
}

::testing::AssertionResult bit_equal(const Tensor& got, const Tensor& want) {
  if (got.sizes() != want.sizes() || got.dtype() != want.dtype())
    return ::testing::AssertionFailure() << "shape/dtype " << shape_str(got.sizes()) << " " << dtype_name(got.dtype())
                                         << " vs " << shape_str(want.sizes()) << " " << dtype_name(want.dtype());
  Tensor a = got.detach().to(Device::cpu()).contiguous(), b = want.detach().to(Device::cpu()).contiguous();
  const size_t size = dtype_size(a.dtype());
  const auto* pa = static_cast<const unsigned char*>(a.raw_data());
  const auto* pb = static_cast<const unsigned char*>(b.raw_data());
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (std::memcmp(pa + i * size, pb + i * size, size) != 0) {
      if (first < 0) first = i;
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << a.numel() << " elements differ in their bits, first at "
                                       << first;
}

double cosine_similarity(const Tensor& a, const Tensor& b) {
  const Tensor x = a.to(Device::cpu()).to(DType::Float64).flatten();
  const Tensor y = b.to(Device::cpu()).to(DType::Float64).flatten();
  return sum(x * y).item() / std::sqrt(sum(x * x).item() * sum(y * y).item() + 1e-300);
}

}  // namespace ember::testing
