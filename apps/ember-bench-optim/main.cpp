// ember-bench-optim: how fast is one optimiser step over flat buffers, against the memory
// system's limit and against the naive implementation.
//
// For each optimiser and each size N (ResNet-18's 62 tensors in their own shapes, scaled
// 1-D tensors for N != 11,181,642):
//   ms                median step time (CUDA events or steady_clock; warm-up; caches flushed
//                     before each repetition)
//   gb_per_s          minimum bytes a step must move (param and grad read, param and every
//                     state buffer read and written: Adam 28 B per parameter) over that time
//   fraction_of_copy  gb_per_s over the copy bandwidth measured in the same run
//   unfused_ms        (CUDA by default, --unfused elsewhere; element-wise optimisers) the same
//                     step written naively, one kernel per tensor per arithmetic operation
//                     (unfused.h), checked against the fused step first; speedup = unfused_ms / ms
// Adafactor and Muon (per-parameter phases) run on ResNet-18's shapes only; their bytes are
// the same minimum (their state is small), and Muon is bound by its GEMMs, not by memory.
// The 8-bit optimisers (adam8bit, ...) move param and grad plus their state bytes (one byte
// per element per slot, absmax and small parameters' float32 state included) read and
// written; they have no unfused baseline (it would be the 32-bit one).
// --json prints one JSON object: {"device", "copy_gb_per_s", "results": [...]}; each result
// also has the optimiser's state_bytes and workspace_bytes (the memory table of the README)
// and cuda_launches_per_step.
// scripts/bench_torch_optim.py measures torch.optim the same way on the GPU machine,
// scripts/bench_torch_optim_cpu.py on the CPU (Muon and Adafactor against torch's).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/common/app_main.h"
#include "apps/ember-bench-optim/layout.h"
#include "apps/ember-bench-optim/timing.h"
#include "apps/ember-bench-optim/unfused.h"
#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "optim/optimizer.h"
#include "optim/state8bit.h"

namespace {

using namespace ember;

const std::vector<std::string> kDefaultSpecs = {"sgd",    "sgd:momentum=0.9", "nag",   "rmsprop", "adagrad",
                                                "adadelta", "adam",            "adamw", "nadam",   "radam",
                                                "adamax",   "asgd",            "rprop", "adafactor", "muon",
                                                "lion",     "adam8bit",        "adamw8bit", "sgd8bit", "lion8bit",
                                                "sfadamw",  "sfsgd"};

struct Options {
  std::string device = "auto";
  std::vector<int64_t> sizes;
  std::vector<std::string> specs;
  int reps = 0, warmup = 3, threads = 0;
  bool json = false, unfused = false, no_unfused = false;
};

struct Result {
  std::string optimizer;
  int64_t n = 0, bytes = 0;
  int64_t state_bytes = 0, workspace_bytes = 0;  // Optimizer::state_bytes() (workspace included) and its workspace
  int64_t launches = 0;                          // on CUDA, per step
  std::string state8bit;                         // how 8-bit state divides the parameters ("" without)
  double ms = 0, gb_per_s = 0, fraction = 0, unfused_ms = -1;
};

// Parameters of the ResNet-18 layout on `device` (its own shapes at its own size, scaled 1-D
// tensors otherwise), random values and gradients.
std::unique_ptr<optim::FlatParameters> make_flat(int64_t n, Device device, uint64_t seed) {
  const std::vector<int64_t> sizes = bench::scaled_layout(n);
  const auto shapes = bench::resnet18_shapes();
  optim::NamedParameters named;
  Generator gen(seed);
  for (size_t k = 0; k < sizes.size(); ++k) {
    Tensor p = empty(n == bench::kResNet18Params ? shapes[k].second : Shape{sizes[k]}, TensorOptions().device(device));
    uniform_(p, -0.1, 0.1, &gen);
    p.set_requires_grad(true);
    named.emplace_back(shapes[k].first, p);
  }
  auto flat = std::make_unique<optim::FlatParameters>(named, device);
  Tensor grads = flat->grads();
  uniform_(grads, -0.01, 0.01, &gen);  // padding gets values too; no step reads it
  return flat;
}

bool state8bit(const optim::OptimizerSpec& spec) {
  for (const optim::PartSpec& part : spec.parts())
    if (part.state8bit) return true;
  return false;
}

bool per_parameter(const optim::OptimizerSpec& spec) {
  for (const optim::PartSpec& part : spec.parts())
    if (!kernels::is_elementwise(part.algorithm)) return true;
  return false;
}

std::vector<Tensor> views(const optim::FlatParameters& flat, bool grads) {
  std::vector<Tensor> out;
  for (const optim::FlatEntry& e : flat.entries()) out.push_back(grads ? e.param.grad() : e.param);
  return out;
}

// The unfused baseline must compute the fused step's result: three steps of each on two
// copies of the same parameters. Both are float32 with different rounding (FMA in ember's
// elementwise kernels, ATen-style lerp vs the rule's): rtol 1e-4, atol 1e-6.
void validate_unfused(const optim::OptimizerSpec& spec, int64_t n, Device device) {
  auto fused_flat = make_flat(n, device, 7), ref_flat = make_flat(n, device, 7);
  optim::Optimizer fused(spec, *fused_flat);
  bench::UnfusedOptimizer ref(spec, views(*ref_flat, false), views(*ref_flat, true));
  for (int t = 0; t < 3; ++t) {
    fused.step();
    ref.step();
  }
  const std::vector<float> a = fused_flat->values().to_vector<float>(), b = ref_flat->values().to_vector<float>();
  int64_t bad = 0;
  for (const optim::FlatEntry& e : fused_flat->entries())
    for (int64_t i = e.offset; i < e.offset + e.numel; ++i)
      bad += !(std::fabs(a[i] - b[i]) <= 1e-6 + 1e-4 * std::fabs(b[i]));
  EMBER_CHECK(bad == 0, "{}: the unfused baseline disagrees with the fused step in {} of {} values", spec.name, bad, n);
}

std::string human(int64_t n) { return n % 1000000 == 0 ? fmt::format("{}M", n / 1000000) : fmt::format("{}", n); }

int run(const Options& o) {
  set_num_threads(o.threads);
  const Device device =
      o.device == "auto" ? (cuda_available() ? Device::cuda() : Device::cpu()) : Device::parse(o.device);
  check_device_usable(device);
  const std::vector<std::string> specs = o.specs.empty() ? kDefaultSpecs : o.specs;
  std::vector<optim::OptimizerSpec> parsed;
  for (const std::string& s : specs) parsed.push_back(optim::parse_optimizer_spec(s));  // usage errors first
  std::vector<int64_t> sizes = o.sizes;
  if (sizes.empty())
    sizes = device.is_cpu() ? std::vector<int64_t>{bench::kResNet18Params}
                            : std::vector<int64_t>{bench::kResNet18Params, 100000000};
  for (int64_t n : sizes) {
    bench::scaled_layout(n);  // checks n
    for (const optim::OptimizerSpec& spec : parsed)
      EMBER_USAGE_CHECK(!per_parameter(spec) || n == bench::kResNet18Params || o.sizes.empty(),
                        "--n {}: {} runs on ResNet-18's own shapes, at --n {} only", n, spec.full_name(),
                        bench::kResNet18Params);
  }
  const bool unfused = o.no_unfused ? false : (o.unfused || device.is_cuda());
  bench::TimingOptions timing;
  timing.warmup = o.warmup;
  timing.reps = o.reps > 0 ? o.reps : (device.is_cpu() ? 10 : 50);

  const double copy = bench::copy_gb_per_s(device, timing);
  std::vector<Result> results;
  for (int64_t n : sizes) {
    auto flat = make_flat(n, device, 1);
    for (size_t k = 0; k < specs.size(); ++k) {
      if (per_parameter(parsed[k]) && n != bench::kResNet18Params) continue;  // default sizes: ResNet-18 only
      if (!o.json) std::fprintf(stderr, "\r%s n=%s ...        ", specs[k].c_str(), human(n).c_str());
      auto optimizer = optim::make_optimizer(parsed[k], *flat);
      Result r;
      r.optimizer = specs[k];
      r.n = n;
      int64_t state_floats = 0;  // per parameter, for the element-wise ones; Adafactor's and Muon's are packed
      for (int part = 0; part < optimizer->num_parts(); ++part)
        state_floats += static_cast<int64_t>(optimizer->state_names(part).size());
      r.bytes = per_parameter(parsed[k]) || parsed[k].hybrid() || state8bit(parsed[k]) ? 12 * n + 2 * (optimizer->state_bytes() - optimizer->workspace_bytes())
                                         : n * 4 * (3 + 2 * state_floats);
      r.state_bytes = optimizer->state_bytes();
      r.workspace_bytes = optimizer->workspace_bytes();
      r.launches = optimizer->cuda_launches_per_step();
      r.state8bit = optim::describe_state8bit(*optimizer);
      r.ms = bench::median_ms(
          device, [&] { optimizer->step(); }, timing);
      r.gb_per_s = double(r.bytes) / (r.ms * 1e6);
      r.fraction = r.gb_per_s / copy;
      if (unfused && !per_parameter(parsed[k]) && !parsed[k].hybrid() && !state8bit(parsed[k])) {
        validate_unfused(parsed[k], n, device);
        bench::UnfusedOptimizer naive(parsed[k], views(*flat, false), views(*flat, true));
        r.unfused_ms = bench::median_ms(
            device, [&] { naive.step(); }, timing);
      }
      results.push_back(r);
    }
  }
  if (!o.json) std::fprintf(stderr, "\r%60s\r", "");

  if (o.json) {
    nlohmann::json out = {{"device", device_name(device)},
                          {"threads", device.is_cpu() ? num_threads() : 0},
                          {"copy_gb_per_s", copy},
                          {"results", nlohmann::json::array()}};
    for (const Result& r : results) {
      nlohmann::json j = {{"optimizer", r.optimizer},     {"n", r.n},
                          {"bytes", r.bytes},             {"ms", r.ms},
                          {"gb_per_s", r.gb_per_s},       {"fraction_of_copy", r.fraction},
                          {"state_bytes", r.state_bytes}, {"workspace_bytes", r.workspace_bytes},
                          {"cuda_launches_per_step", r.launches}};
      if (!r.state8bit.empty()) j["state8bit"] = r.state8bit;
      if (r.unfused_ms >= 0) {
        j["unfused_ms"] = r.unfused_ms;
        j["speedup_vs_unfused"] = r.unfused_ms / r.ms;
      }
      out["results"].push_back(j);
    }
    std::printf("%s\n", out.dump(2).c_str());
    return apps::kExitOk;
  }
  std::printf("%s: copy bandwidth %.1f GB/s (%s, bytes read + written)\n", device_name(device).c_str(), copy,
              device.is_cpu() ? "best of memcpy and a streaming copy, all threads" : "device-to-device memcpy");
  std::printf("median of %d steps after %d warm-up; ResNet-18's 62 tensors (scaled for other sizes)\n\n", timing.reps,
              timing.warmup);
  int width = 24;
  for (const Result& r : results) width = std::max(width, static_cast<int>(r.optimizer.size()));
  std::printf("%-*s %11s %10s %9s %9s", width, "optimizer", "n", "ms", "GB/s", "of copy");
  if (unfused) std::printf(" %12s %9s", "unfused ms", "speedup");
  std::printf("\n");
  for (const Result& r : results) {
    std::printf("%-*s %11lld %10.3f %9.1f %8.0f%%", width, r.optimizer.c_str(), static_cast<long long>(r.n), r.ms,
                r.gb_per_s, 100 * r.fraction);
    if (r.unfused_ms >= 0) std::printf(" %12.3f %8.1fx", r.unfused_ms, r.unfused_ms / r.ms);
    std::printf("\n");
  }
  for (const Result& r : results)
    if (!r.state8bit.empty())
      std::printf("%s: %s; state %.3f bytes per parameter\n", r.optimizer.c_str(), r.state8bit.c_str(),
                  double(r.state_bytes) / double(r.n));
  return apps::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"ember-bench-optim: fused optimiser step time, bandwidth and speedup over an unfused baseline",
               "ember-bench-optim"};
  app.add_option("--device", o.device, "auto (a GPU if there is one), cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--n", o.sizes,
                 "parameter count, repeatable (default 11181642, plus 100000000 on a GPU); the 62 tensors of "
                 "ResNet-18 scaled to N")
      ->check(CLI::Range(int64_t(62), int64_t(2000000000)));
  app.add_option("--optimizer", o.specs,
                 "optimizer spec NAME[:key=value,...] or A+B, repeatable; NAME one of " + optim::optimizer_names_text() +
                     " (default: every one, sgd also with momentum 0.9)");
  app.add_option("--reps", o.reps, "timed repetitions per measurement (default 10 on the CPU, 50 on a GPU)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--warmup", o.warmup, "untimed repetitions first")->capture_default_str()->check(CLI::Range(0, 1000));
  app.add_flag("--unfused", o.unfused, "also time the unfused baseline on the CPU (always on a GPU)");
  app.add_flag("--no-unfused", o.no_unfused, "skip the unfused baseline");
  app.add_option("--threads", o.threads, "CPU threads (0: EMBER_NUM_THREADS or all cores)")->capture_default_str();
  app.add_flag("--json", o.json, "print one JSON object instead of the table");
  return ember::apps::run_main(app, argc, argv, [&] { return run(o); });
}
