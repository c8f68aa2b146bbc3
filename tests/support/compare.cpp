#include "tests/support/compare.h"

#include <cmath>
#include <cstdint>
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

namespace {

// Whether the value at p, of a floating dtype, is a NaN (any payload, either sign).
bool is_nan_bits(const unsigned char* p, DType dtype) {
  switch (dtype) {
    case DType::Float32: {
      uint32_t u;
      std::memcpy(&u, p, sizeof u);
      return (u & 0x7fffffffu) > 0x7f800000u;
    }
    case DType::Float64: {
      uint64_t u;
      std::memcpy(&u, p, sizeof u);
      return (u & 0x7fffffffffffffffull) > 0x7ff0000000000000ull;
    }
    case DType::BFloat16: {
      uint16_t u;
      std::memcpy(&u, p, sizeof u);
      return (u & 0x7fffu) > 0x7f80u;
    }
    default: return false;
  }
}

}  // namespace

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
    const unsigned char *x = pa + i * size, *y = pb + i * size;
    if (std::memcmp(x, y, size) == 0) continue;
    if (is_nan_bits(x, a.dtype()) && is_nan_bits(y, a.dtype())) continue;  // NaN is NaN, whatever its payload
    if (first < 0) first = i;
    ++bad;
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

::testing::AssertionResult gradients_agree(const Tensor& got, const Tensor& want, double min_cosine,
                                           double norm_tolerance) {
  if (!got.defined() || !want.defined()) return ::testing::AssertionFailure() << "undefined gradient";
  const Tensor x = got.detach().to(Device::cpu()).to(DType::Float64).flatten();
  const Tensor y = want.detach().to(Device::cpu()).to(DType::Float64).flatten();
  const double norm_x = std::sqrt(sum(x * x).item()), norm_y = std::sqrt(sum(y * y).item());
  if (norm_x == 0 && norm_y == 0) return ::testing::AssertionSuccess();  // both zero: the same vector
  const double cosine = cosine_similarity(x, y), ratio = norm_x / norm_y;
  if (cosine >= min_cosine && std::fabs(ratio - 1.0) <= norm_tolerance) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "gradients differ: cosine " << cosine << " (at least " << min_cosine
                                       << "), norm ratio " << ratio << " (1 +- " << norm_tolerance << ")";
}

}  // namespace ember::testing
