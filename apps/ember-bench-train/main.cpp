// ember-bench-train: images/s of a ResNet-18 training step (forward + backward + optimiser
// step) on random CIFAR-shaped data, with the time split into forward, backward and
// optimiser, and peak memory. The baseline is scripts/bench_torch_train.py (GPU) or
// scripts/bench_torch_cpu.py (CPU) on the same machine.
//
// Throughput is measured over --steps steps with no synchronisation inside (one at each
// end); the split comes from --steps more eager steps with a synchronisation after each
// phase. With --cuda-graph the timed steps replay one captured CUDA graph (apps/common/
// train_step.h; the capture happens during warm-up), and the memory figure adds the graph's
// private pool to the ordinary memory in use.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/common/app_main.h"
#include "apps/common/train_step.h"
#include "core/allocator.h"
#include "core/backend.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "nn/conv_algorithms.h"
#include "nn/resnet.h"
#include "optim/optimizer.h"

namespace {

using namespace ember;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

struct Options {
  std::string device = "auto", arch = "resnet18", optimizer = "adam:lr=1e-3", precision = "fp32";
  int64_t batch_size = 0;  // 0: 64 on the CPU, 256 on a GPU
  int steps = 20, warmup = 3, threads = 0;
  bool json = false, cuda_graph = false, channels_last = false, deterministic = false;
};

struct PhaseTimes {
  std::vector<double> forward, backward, optimizer;  // ms per step
};

// `steps` eager steps with a synchronisation after each phase.
PhaseTimes time_phases(nn::Module& model, optim::Optimizer& optimizer, const Tensor& images, const Tensor& labels,
                       int steps) {
  Backend& backend = backend_for(images.device());
  PhaseTimes times;
  for (int i = 0; i < steps; ++i) {
    auto t = Clock::now();
    Tensor loss = cross_entropy(model(images), labels);
    backend.synchronize();
    times.forward.push_back(ms_since(t));
    t = Clock::now();
    optimizer.zero_grad();
    loss.backward();
    backend.synchronize();
    times.backward.push_back(ms_since(t));
    t = Clock::now();
    optimizer.step();
    backend.synchronize();
    times.optimizer.push_back(ms_since(t));
  }
  return times;
}

// The result `r` (the JSON object --json prints) as three lines of text.
void print_text(const Options& o, const nlohmann::json& r) {
  std::printf("%s, %s, batch %lld, %s, %s%s\n", r["device"].get<std::string>().c_str(), o.arch.c_str(),
              static_cast<long long>(r["batch_size"].get<int64_t>()), o.optimizer.c_str(),
              (o.precision + (o.channels_last ? ", channels_last" : "")).c_str(),
              r["graph_replayed"].get<bool>() ? ", CUDA graph" : "");
  std::printf("  %.1f images/s (%.2f ms/step; eager split: forward %.2f, backward %.2f, optimiser %.2f)\n",
              r["images_per_s"].get<double>(), r["ms_step"].get<double>(), r["ms_forward"].get<double>(),
              r["ms_backward"].get<double>(), r["ms_optimizer"].get<double>());
  std::printf("  peak ember memory %.1f MB, peak RSS %.1f MB\n", r["peak_device_bytes"].get<int64_t>() / 1e6,
              r["peak_rss_bytes"].get<int64_t>() / 1e6);
}

int run(const Options& o) {
  set_num_threads(o.threads);
  const Device device = resolve_device(o.device, "ember-bench-train");
  nn::set_deterministic_convolutions(o.deterministic);
  const int64_t batch = o.batch_size > 0 ? o.batch_size : (device.is_cpu() ? 64 : 256);
  Generator gen(0);
  nn::ResNet18 model(10, o.arch == "resnet18-cifar" ? nn::Stem::Cifar : nn::Stem::ImageNet, &gen);
  model.to(device);
  if (o.precision == "bf16") model.set_compute_dtype(DType::BFloat16);
  model.set_channels_last(o.channels_last);
  optim::FlatParameters flat(model.named_parameters(), device);
  optim::OptimizerSpec spec = optim::parse_optimizer_spec(o.optimizer);
  spec.capturable = spec.capturable || o.cuda_graph;
  auto optimizer = optim::make_optimizer(spec, flat);
  Tensor images = randn({batch, 3, 32, 32}, TensorOptions(device), &gen);
  std::vector<int64_t> classes(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) classes[i] = i % 10;
  const Tensor labels = from_vector(classes, {batch}, TensorOptions(DType::Int64).device(device));
  Backend& backend = backend_for(device);
  Allocator& allocator = allocator_for(device);

  TrainStepOptions step_options;
  step_options.cuda_graph = o.cuda_graph;
  step_options.warmup = std::max(o.warmup, o.cuda_graph ? 1 : 0);  // a capture needs one eager step first
  step_options.batch_size = batch;
  TrainStep train_step(model, *optimizer, step_options);
  auto step = [&] { train_step.run(images, labels); };
  allocator.reset_peak();
  for (int i = 0; i < step_options.warmup; ++i) step();
  if (o.cuda_graph) step();  // the capture (and its first replay)
  backend.synchronize();
  if (!train_step.graph_failure().empty())
    std::fprintf(stderr, "ember-bench-train: running eagerly: %s\n", train_step.graph_failure().c_str());
  // Graph mode keeps the capture's peak: a replay needs what the capture laid out.
  if (!o.cuda_graph) allocator.reset_peak();

  const auto start = Clock::now();
  for (int i = 0; i < o.steps; ++i) step();
  backend.synchronize();
  const double ms_step = ms_since(start) / o.steps;
  const AllocatorStats memory = allocator.stats();
  const int64_t peak_bytes = std::max(memory.peak_bytes, memory.current_bytes + train_step.graph_pool_bytes());

  const PhaseTimes split = time_phases(model, *optimizer, images, labels, o.steps);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  nlohmann::json r = {{"device", device_name(device)},
                      {"arch", o.arch},
                      {"batch_size", batch},
                      {"threads", num_threads()},
                      {"optimizer", o.optimizer},
                      {"precision", o.precision},
                      {"channels_last", o.channels_last},
                      {"cuda_graph", o.cuda_graph},
                      {"deterministic", o.deterministic},
                      {"graph_replayed", train_step.replayed_last()},
                      {"graph_failure", train_step.graph_failure()},
                      {"graph_pool_bytes", train_step.graph_pool_bytes()},
                      {"split", "eager"},
                      {"images_per_s", batch / ms_step * 1000.0},
                      {"ms_step", ms_step},
                      {"ms_forward", median(split.forward)},
                      {"ms_backward", median(split.backward)},
                      {"ms_optimizer", median(split.optimizer)},
                      {"peak_device_bytes", peak_bytes},
                      {"peak_rss_bytes", static_cast<int64_t>(usage.ru_maxrss) * 1024}};
  if (o.json) std::printf("%s\n", r.dump().c_str());
  else print_text(o, r);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ember-bench-train: images/s of a ResNet-18 training step on random CIFAR-shaped data",
               "ember-bench-train"};
  Options o;
  app.add_option("--device", o.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--arch", o.arch, "resnet18 or resnet18-cifar")
      ->check(CLI::IsMember({"resnet18", "resnet18-cifar"}))
      ->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "images per step (default 64 on the CPU, 256 on a GPU)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 16));
  app.add_option("--optimizer", o.optimizer, "optimiser spec")->capture_default_str();
  app.add_option("--precision", o.precision,
                 "fp32 (float32; TF32 convolutions on a GPU) or bf16 (bfloat16 activations and convolutions, "
                 "float32 master weights, batch-norm parameters and loss)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  app.add_option("--steps", o.steps, "timed steps")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--warmup", o.warmup, "untimed steps first")->check(CLI::Range(0, 100000))->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (default: EMBER_NUM_THREADS or all cores)");
  app.add_flag("--channels-last", o.channels_last, "NHWC activations (cuDNN's tensor-core layout)");
  app.add_flag("--cuda-graph", o.cuda_graph,
               "capture the step into a CUDA graph after the warm-up and replay it (GPU; makes the optimiser capturable)");
  app.add_flag("--deterministic", o.deterministic,
               "deterministic cuDNN convolution algorithms from cuDNN's heuristics (as ember-train --deterministic)");
  app.add_flag("--json", o.json, "print one JSON object");
  return apps::run_main(app, argc, argv, [&] { return run(o); });
}
