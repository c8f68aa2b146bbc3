// CPU spatial batch normalisation: one channel per OpenMP iteration, statistics accumulated
// in double (two passes: mean, then the centred sum of squares), so float results are
// correctly rounded to ~1 ulp and the CUDA path can be checked against them.
//
// With M = N*H*W values per channel, xhat = (x - mean) * invstd:
//   forward   y = xhat * weight + bias, invstd = 1 / sqrt(var_biased + eps)
//   running   running_mean = (1 - momentum) running_mean + momentum mean
//             running_var  = (1 - momentum) running_var  + momentum var_biased * M / (M - 1)
//   backward  grad_bias = sum(dy), grad_weight = sum(dy * xhat),
//             dx = weight * invstd * (dy - grad_bias / M - xhat * grad_weight / M)
// (torch.nn.BatchNorm2d's documentation and its CPU kernel, aten/src/ATen/native/Normalization.cpp).
#include <cmath>

#include "nn/cpu/cpu_layer_backend.h"

namespace ember::nn {

namespace {

struct ChannelLayout {
  int64_t batch, channels, plane;  // plane = H*W
  int64_t count() const { return batch * plane; }  // values per channel
  int64_t total() const { return batch * channels * plane; }
  int64_t base(int64_t n, int64_t c) const { return (n * channels + c) * plane; }
};

ChannelLayout layout_of(const Tensor& x) { return {x.size(0), x.size(1), x.size(2) * x.size(3)}; }

template <class T, class F>
void for_each_in_channel(const ChannelLayout& l, int64_t c, F&& f) {
  for (int64_t n = 0; n < l.batch; ++n) {
    const int64_t base = l.base(n, c);
    for (int64_t i = 0; i < l.plane; ++i) f(base + i);
  }
}

template <class T>
void forward_train(const BatchNormTrainArgs& a) {
  const ChannelLayout l = layout_of(a.input);
  const T* x = a.input.data<T>();
  const T* w = a.weight.data<T>();
  const T* b = a.bias.data<T>();
  T* y = a.out.data<T>();
  T* save_mean = a.save_mean.data<T>();
  T* save_invstd = a.save_invstd.data<T>();
  T* running_mean = a.running_mean.defined() ? a.running_mean.data<T>() : nullptr;
  T* running_var = a.running_var.defined() ? a.running_var.data<T>() : nullptr;
  const double m = static_cast<double>(l.count());
#pragma omp parallel for num_threads(num_threads()) if (l.total() > cpu::kParallelGrain)
  for (int64_t c = 0; c < l.channels; ++c) {
    double total = 0;
    for_each_in_channel<T>(l, c, [&](int64_t i) { total += x[i]; });
    const double mean = total / m;
    double squares = 0;
    for_each_in_channel<T>(l, c, [&](int64_t i) {
      const double d = x[i] - mean;
      squares += d * d;
    });
    const double var = squares / m;
    const double invstd = 1.0 / std::sqrt(var + a.eps);
    const double scale = invstd * w[c];
    for_each_in_channel<T>(l, c, [&](int64_t i) { y[i] = static_cast<T>((x[i] - mean) * scale + b[c]); });
    save_mean[c] = static_cast<T>(mean);
    save_invstd[c] = static_cast<T>(invstd);
    if (running_mean != nullptr)
      running_mean[c] = static_cast<T>((1 - a.momentum) * running_mean[c] + a.momentum * mean);
    if (running_var != nullptr)
      running_var[c] = static_cast<T>((1 - a.momentum) * running_var[c] + a.momentum * var * m / (m - 1));
  }
}

template <class T>
void forward_eval(T* y, const T* x, const T* w, const T* b, const T* rm, const T* rv, double eps,
                  const ChannelLayout& l) {
#pragma omp parallel for num_threads(num_threads()) if (l.total() > cpu::kParallelGrain)
  for (int64_t c = 0; c < l.channels; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(rv[c]) + eps);
    const double mean = rm[c], scale = invstd * w[c];
    for_each_in_channel<T>(l, c, [&](int64_t i) { y[i] = static_cast<T>((x[i] - mean) * scale + b[c]); });
  }
}

template <class T>
void backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, const T* save_mean, const T* save_invstd,
              const ChannelLayout& l) {
  const double m = static_cast<double>(l.count());
#pragma omp parallel for num_threads(num_threads()) if (l.total() > cpu::kParallelGrain)
  for (int64_t c = 0; c < l.channels; ++c) {
    const double mean = save_mean[c], invstd = save_invstd[c];
    double sum_dy = 0, sum_dy_xhat = 0;
    for_each_in_channel<T>(l, c, [&](int64_t i) {
      sum_dy += dy[i];
      sum_dy_xhat += dy[i] * (x[i] - mean) * invstd;
    });
    const double k = w[c] * invstd, mean_dy = sum_dy / m, mean_dy_xhat = sum_dy_xhat / m;
    for_each_in_channel<T>(l, c, [&](int64_t i) {
      const double xhat = (x[i] - mean) * invstd;
      dx[i] = static_cast<T>(k * (dy[i] - mean_dy - xhat * mean_dy_xhat));
    });
    dw[c] = static_cast<T>(sum_dy_xhat);
    db[c] = static_cast<T>(sum_dy);
  }
}

}  // namespace

void CpuLayerBackend::batch_norm_forward_train(const BatchNormTrainArgs& a) {
  dispatch_floating(a.input.dtype(), "batch_norm", [&](auto tag) { forward_train<typename decltype(tag)::type>(a); });
}

void CpuLayerBackend::batch_norm_forward_eval(const Tensor& out, const Tensor& in, const Tensor& weight,
                                              const Tensor& bias, const Tensor& running_mean,
                                              const Tensor& running_var, double eps) {
  dispatch_floating(in.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    forward_eval<T>(out.data<T>(), in.data<T>(), weight.data<T>(), bias.data<T>(), running_mean.data<T>(),
                    running_var.data<T>(), eps, layout_of(in));
  });
}

void CpuLayerBackend::batch_norm_backward(const BatchNormBackwardArgs& a) {
  dispatch_floating(a.input.dtype(), "batch_norm backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward<T>(a.grad_in.data<T>(), a.grad_weight.data<T>(), a.grad_bias.data<T>(), a.grad_out.data<T>(),
                a.input.data<T>(), a.weight.data<T>(), a.save_mean.data<T>(), a.save_invstd.data<T>(),
                layout_of(a.input));
  });
}

}  // namespace ember::nn
