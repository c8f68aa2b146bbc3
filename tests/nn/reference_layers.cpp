#include "tests/nn/reference_layers.h"

#include <cmath>
#include <limits>
#include <vector>

namespace ember::testing {

namespace {

std::vector<double> values(const Tensor& t) { return t.to(Device::cpu()).to(DType::Float64).to_vector<double>(); }

Tensor make(const std::vector<double>& v, const Shape& shape) { return from_vector<double>(v, shape); }

struct Dims {
  int64_t n, c, h, w, oc, kh, kw, ho, wo;
};

Dims dims_of(const Tensor& input, const Tensor& weight, nn::Size2 stride, nn::Size2 padding) {
  Dims d{input.size(0), input.size(1), input.size(2), input.size(3), weight.size(0), weight.size(2), weight.size(3), 0, 0};
  d.ho = (d.h + 2 * padding.h - d.kh) / stride.h + 1;
  d.wo = (d.w + 2 * padding.w - d.kw) / stride.w + 1;
  return d;
}

}  // namespace

Tensor reference_conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, nn::Size2 stride,
                        nn::Size2 padding) {
  const Dims d = dims_of(input, weight, stride, padding);
  const std::vector<double> x = values(input), w = values(weight);
  const std::vector<double> b = bias.defined() ? values(bias) : std::vector<double>(d.oc, 0.0);
  std::vector<double> y(d.n * d.oc * d.ho * d.wo);
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t o = 0; o < d.oc; ++o)
      for (int64_t i = 0; i < d.ho; ++i)
        for (int64_t j = 0; j < d.wo; ++j) {
          double total = b[o];
          for (int64_t c = 0; c < d.c; ++c)
            for (int64_t ki = 0; ki < d.kh; ++ki)
              for (int64_t kj = 0; kj < d.kw; ++kj) {
                const int64_t ih = i * stride.h - padding.h + ki, iw = j * stride.w - padding.w + kj;
                if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                total += x[((n * d.c + c) * d.h + ih) * d.w + iw] * w[((o * d.c + c) * d.kh + ki) * d.kw + kj];
              }
          y[((n * d.oc + o) * d.ho + i) * d.wo + j] = total;
        }
  return make(y, {d.n, d.oc, d.ho, d.wo});
}

ConvGrads reference_conv2d_backward(const Tensor& input, const Tensor& weight, const Tensor& bias,
                                    const Tensor& grad_out, nn::Size2 stride, nn::Size2 padding) {
  const Dims d = dims_of(input, weight, stride, padding);
  const std::vector<double> x = values(input), w = values(weight), g = values(grad_out);
  std::vector<double> gx(x.size(), 0.0), gw(w.size(), 0.0), gb(d.oc, 0.0);
  // Each product x * w in the forward sum contributes g * w to dx and g * x to dw.
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t o = 0; o < d.oc; ++o)
      for (int64_t i = 0; i < d.ho; ++i)
        for (int64_t j = 0; j < d.wo; ++j) {
          const double go = g[((n * d.oc + o) * d.ho + i) * d.wo + j];
          gb[o] += go;
          for (int64_t c = 0; c < d.c; ++c)
            for (int64_t ki = 0; ki < d.kh; ++ki)
              for (int64_t kj = 0; kj < d.kw; ++kj) {
                const int64_t ih = i * stride.h - padding.h + ki, iw = j * stride.w - padding.w + kj;
                if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                const int64_t xi = ((n * d.c + c) * d.h + ih) * d.w + iw, wi = ((o * d.c + c) * d.kh + ki) * d.kw + kj;
                gx[xi] += go * w[wi];
                gw[wi] += go * x[xi];
              }
        }
  ConvGrads out;
  out.input = make(gx, input.sizes());
  out.weight = make(gw, weight.sizes());
  if (bias.defined()) out.bias = make(gb, bias.sizes());
  return out;
}

Tensor reference_max_pool2d(const Tensor& input, nn::Size2 kernel, nn::Size2 stride, nn::Size2 padding) {
  const int64_t n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
  const int64_t ho = (h + 2 * padding.h - kernel.h) / stride.h + 1, wo = (w + 2 * padding.w - kernel.w) / stride.w + 1;
  const std::vector<double> x = values(input);
  std::vector<double> y(n * c * ho * wo);
  for (int64_t p = 0; p < n * c; ++p)
    for (int64_t i = 0; i < ho; ++i)
      for (int64_t j = 0; j < wo; ++j) {
        double best = -std::numeric_limits<double>::infinity();
        for (int64_t ki = 0; ki < kernel.h; ++ki)
          for (int64_t kj = 0; kj < kernel.w; ++kj) {
            const int64_t ih = i * stride.h - padding.h + ki, iw = j * stride.w - padding.w + kj;
            if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
            const double v = x[(p * h + ih) * w + iw];
            if (std::isnan(v) || std::isnan(best)) best = std::numeric_limits<double>::quiet_NaN();
            else if (v > best) best = v;
          }
        y[(p * ho + i) * wo + j] = best;
      }
  return make(y, {n, c, ho, wo});
}

Tensor reference_batch_norm_train(const Tensor& input, const Tensor& weight, const Tensor& bias, double eps) {
  const int64_t n = input.size(0), c = input.size(1), plane = input.size(2) * input.size(3);
  const std::vector<double> x = values(input), w = values(weight), b = values(bias);
  std::vector<double> y(x.size());
  for (int64_t ch = 0; ch < c; ++ch) {
    double mean = 0, var = 0;
    for (int64_t s = 0; s < n; ++s)
      for (int64_t i = 0; i < plane; ++i) mean += x[(s * c + ch) * plane + i];
    mean /= n * plane;
    for (int64_t s = 0; s < n; ++s)
      for (int64_t i = 0; i < plane; ++i) var += std::pow(x[(s * c + ch) * plane + i] - mean, 2);
    var /= n * plane;
    for (int64_t s = 0; s < n; ++s)
      for (int64_t i = 0; i < plane; ++i) {
        const int64_t k = (s * c + ch) * plane + i;
        y[k] = (x[k] - mean) / std::sqrt(var + eps) * w[ch] + b[ch];
      }
  }
  return make(y, input.sizes());
}

}  // namespace ember::testing
