// ember-bench-onednn-layouts: what keeping activations NHWC between layers would buy on the
// CPU (issue 18). For each 3x3 convolution of ResNet-18 (CIFAR stem), oneDNN's three passes
// timed two ways in the same process: as ember runs them today (NCHW tensors, the primitive
// choosing its blocked layout, activations reordered in and out on every call) and with NHWC
// tensors handed to an NHWC primitive (no activation reorders). Weights are OIHW and reordered
// both ways. Median of --reps runs after two warm-ups; the ratio is NCHW+reorders time over
// NHWC time (above 1: NHWC faster).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <utility>
#include <vector>

#include "apps/common/app_main.h"

namespace {

using dnnl::memory;
using tag = memory::format_tag;

struct Options {
  int batch = 64, reps = 7, threads = 2;
  std::vector<std::string> precisions = {"fp32", "bf16"};
};

struct Shape {
  int channels, size, out_channels, stride;
};

// ResNet-18's 3x3 convolutions on 32x32 inputs (the CIFAR stem), one per distinct shape.
const Shape kShapes[] = {{64, 32, 64, 1}, {64, 32, 128, 2}, {128, 16, 128, 1}, {128, 16, 256, 2},
                         {256, 8, 256, 1}, {256, 8, 512, 2}, {512, 4, 512, 1}};

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

template <class F>
double median_ms(int reps, dnnl::stream& s, F&& f) {
  f();
  f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    s.wait();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// One operand: the caller's memory and, where the primitive wants another layout, its copy.
struct Operand {
  memory user, inner;
  Operand(const memory::desc& user_desc, const memory::desc& inner_desc)
      : user(user_desc, engine()), inner(inner_desc == user_desc ? user : memory(inner_desc, engine())) {}
  void in(dnnl::stream& s) {
    if (inner.get() != user.get()) dnnl::reorder(user, inner).execute(s, user, inner);
  }
  void out(dnnl::stream& s) {
    if (inner.get() != user.get()) dnnl::reorder(inner, user).execute(s, inner, user);
  }
};

// One pass timed as ember runs it: both inputs reordered in (where their layouts differ), the
// primitive, the output reordered out.
using Arg = std::pair<int, Operand*>;
double time_pass(const Options& o, dnnl::stream& s, const dnnl::primitive& p, Arg in1, Arg in2, Arg out) {
  return median_ms(o.reps, s, [&] {
    in1.second->in(s);
    in2.second->in(s);
    p.execute(s, {{in1.first, in1.second->inner}, {in2.first, in2.second->inner}, {out.first, out.second->inner}});
    out.second->out(s);
  });
}

struct PassTimes {
  double forward, backward_data, backward_weights;
  std::string impl;
  double total() const { return forward + backward_data + backward_weights; }
};

PassTimes time_passes(const Options& o, const Shape& sh, memory::data_type type, bool nhwc) {
  dnnl::stream s(engine());
  const int out = (sh.size + 2 - 3) / sh.stride + 1;
  const memory::dims src_dims = {o.batch, sh.channels, sh.size, sh.size}, dst_dims = {o.batch, sh.out_channels, out, out},
                     w_dims = {sh.out_channels, sh.channels, 3, 3}, strides = {sh.stride, sh.stride}, pad = {1, 1};
  const tag plain = nhwc ? tag::nhwc : tag::nchw;
  const memory::desc user_src(src_dims, type, plain), user_dst(dst_dims, type, plain), user_w(w_dims, type, tag::oihw);
  const memory::desc src = nhwc ? user_src : memory::desc(src_dims, type, tag::any);
  const memory::desc dst = nhwc ? user_dst : memory::desc(dst_dims, type, tag::any);
  const memory::desc w(w_dims, type, tag::any);
  const auto algo = dnnl::algorithm::convolution_direct;
  const dnnl::convolution_forward::primitive_desc fwd(
      {dnnl::prop_kind::forward_training, algo, src, w, dst, strides, pad, pad}, engine());
  const dnnl::convolution_backward_data::primitive_desc bwd_data({algo, src, w, dst, strides, pad, pad}, engine(),
                                                                 fwd);
  const dnnl::convolution_backward_weights::primitive_desc bwd_weights({algo, src, w, dst, strides, pad, pad},
                                                                       engine(), fwd);
  PassTimes t;
  t.impl = std::string(fwd.impl_info_str()) + " / " + bwd_data.impl_info_str() + " / " + bwd_weights.impl_info_str();
  {
    Operand x(user_src, fwd.src_desc()), k(user_w, fwd.weights_desc()), y(user_dst, fwd.dst_desc());
    t.forward = time_pass(o, s, dnnl::convolution_forward(fwd), {DNNL_ARG_SRC, &x}, {DNNL_ARG_WEIGHTS, &k},
                          {DNNL_ARG_DST, &y});
  }
  {
    Operand dy(user_dst, bwd_data.diff_dst_desc()), k(user_w, bwd_data.weights_desc()),
        dx(user_src, bwd_data.diff_src_desc());
    t.backward_data = time_pass(o, s, dnnl::convolution_backward_data(bwd_data), {DNNL_ARG_DIFF_DST, &dy},
                                {DNNL_ARG_WEIGHTS, &k}, {DNNL_ARG_DIFF_SRC, &dx});
  }
  {
    Operand x(user_src, bwd_weights.src_desc()), dy(user_dst, bwd_weights.diff_dst_desc()),
        dk(user_w, bwd_weights.diff_weights_desc());
    t.backward_weights = time_pass(o, s, dnnl::convolution_backward_weights(bwd_weights), {DNNL_ARG_SRC, &x},
                                   {DNNL_ARG_DIFF_DST, &dy}, {DNNL_ARG_DIFF_WEIGHTS, &dk});
  }
  return t;
}

int run(const Options& o) {
  omp_set_num_threads(o.threads);
  std::printf("oneDNN %d.%d.%d, %d threads, batch %d, median of %d; ms per pass (forward / backward data / backward "
              "weights)\n",
              dnnl_version()->major, dnnl_version()->minor, dnnl_version()->patch, o.threads, o.batch, o.reps);
  for (const std::string& precision : o.precisions) {
    const auto type = precision == "bf16" ? memory::data_type::bf16 : memory::data_type::f32;
    double sum_blocked = 0, sum_nhwc = 0;
    for (const Shape& sh : kShapes) {
      const PassTimes blocked = time_passes(o, sh, type, false), nhwc = time_passes(o, sh, type, true);
      sum_blocked += blocked.total();
      sum_nhwc += nhwc.total();
      std::printf("%s %3d->%3d ch %2dx%-2d stride %d: NCHW+reorders %6.2f / %6.2f / %6.2f  NHWC %6.2f / %6.2f / %6.2f  "
                  "ratio %.2f  [%s | %s]\n",
                  precision.c_str(), sh.channels, sh.out_channels, sh.size, sh.size, sh.stride, blocked.forward,
                  blocked.backward_data, blocked.backward_weights, nhwc.forward, nhwc.backward_data,
                  nhwc.backward_weights, blocked.total() / nhwc.total(), blocked.impl.c_str(), nhwc.impl.c_str());
    }
    std::printf("%s, all shapes once: NCHW+reorders %.1f ms, NHWC %.1f ms, ratio %.2f\n", precision.c_str(),
                sum_blocked, sum_nhwc, sum_blocked / sum_nhwc);
  }
  return ember::apps::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"ember-bench-onednn-layouts: oneDNN's convolution passes on NCHW tensors with reorders against NHWC "
               "tensors without, per ResNet-18 (CIFAR stem) shape",
               "ember-bench-onednn-layouts"};
  app.add_option("--batch", o.batch, "images per pass")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--reps", o.reps, "timed runs per pass (the median is reported)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--threads", o.threads, "OpenMP threads")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--precision", o.precisions, "fp32 and/or bf16 (bf16 needs avx512_bf16 in oneDNN 2.6)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  return ember::apps::run_main(app, argc, argv, [&] { return run(o); });
}
