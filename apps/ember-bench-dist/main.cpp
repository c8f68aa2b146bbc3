// ember-bench-dist: the cost of data parallelism on this machine, for ResNet-18 (CIFAR stem)
// on random CIFAR-shaped data. Run it as one process and under `mpirun -np N` (one thread per
// rank); scripts/bench_dist.sh does both and writes bench/results/. Rank 0 prints one JSON
// object with the medians over --reps after --warmup:
//   step_ms        one data-parallel training step: forward and backward on this rank's rows
//                  of the global batch, the bucketed all-reduce, the Adam step
//   finish_ms      the part of step_ms spent in GradientBuckets::finish(): all-reduce time
//                  not hidden behind backward
//   allreduce_ms   the bucketed all-reduce of the whole gradient buffer with nothing to hide
//                  behind (every bucket starts in finish())
//   adam_step_ms / zero1_step_ms   the full Adam step and ZeRO-1's (reduce-scatter, step on
//                  the shard, all-gather), and each rank's optimiser state bytes
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/common/app_main.h"
#include "core/dist/communicator.h"
#include "core/dist/launch.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "nn/resnet.h"
#include "optim/grad_buckets.h"
#include "optim/zero1.h"

namespace {

using namespace ember;
using Clock = std::chrono::steady_clock;

struct Options {
  int64_t batch_size = 16;  // global batch
  int reps = 5, warmup = 1;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Median ms of `body` over reps (after warmup), timed between barriers so every rank's
// figure covers the slowest rank.
double time_ms(dist::Communicator& comm, const Options& o, const std::function<void()>& body) {
  for (int i = 0; i < o.warmup; ++i) body();
  std::vector<double> ms;
  for (int i = 0; i < o.reps; ++i) {
    comm.barrier();
    const Clock::time_point start = Clock::now();
    body();
    comm.barrier();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  return median(ms);
}

int run(const Options& o) {
  const dist::LaunchInfo launch = dist::detect_launch();
  // num_threads(): EMBER_NUM_THREADS or the cores this process may use.
  set_num_threads(dist::cpu_threads_for_rank(launch, num_threads(), static_cast<int>(std::thread::hardware_concurrency())));
  auto comm = dist::make_communicator(Device::cpu());
  EMBER_USAGE_CHECK(o.batch_size % comm->size() == 0, "--batch-size {} is not a multiple of the {} ranks",
                    o.batch_size, comm->size());
  Generator gen(0);
  nn::ResNet18 model(10, nn::Stem::Cifar, &gen);
  optim::FlatParameters flat(model.named_parameters(), Device::cpu());
  auto adam = optim::make_optimizer("adam:lr=1e-3", flat);
  optim::GradientBuckets buckets(*comm, flat);
  const int64_t rows = o.batch_size / comm->size();
  const Tensor images = randn({rows, 3, 32, 32}, {}, &gen);
  std::vector<int64_t> classes(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) classes[i] = (i + comm->rank() * rows) % 10;
  const Tensor labels = from_vector(classes, {rows});

  std::vector<double> finish;
  const double step_ms = time_ms(*comm, o, [&] {
    adam->zero_grad();
    cross_entropy(model(images), labels).backward();
    const Clock::time_point start = Clock::now();
    buckets.finish();
    finish.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    adam->step();
  });
  const double allreduce_ms = time_ms(*comm, o, [&] { buckets.finish(); });
  const double adam_ms = time_ms(*comm, o, [&] { adam->step(); });
  optim::Zero1Step zero(*comm, flat, optim::parse_optimizer_spec("adam:lr=1e-3"));
  const double zero_ms = time_ms(*comm, o, [&] { zero.step(); });

  const nlohmann::json r = {{"ranks", comm->size()},
                            {"backend", comm->backend()},
                            {"threads_per_rank", num_threads()},
                            {"global_batch", o.batch_size},
                            {"parameters", flat.trainable_numel()},
                            {"allreduce_bytes", buckets.bytes_per_step()},
                            {"buckets", buckets.buckets().size()},
                            {"step_ms", step_ms},
                            {"finish_ms", median(finish)},
                            {"allreduce_ms", allreduce_ms},
                            {"adam_step_ms", adam_ms},
                            {"zero1_step_ms", zero_ms},
                            {"adam_state_bytes", adam->state_bytes()},
                            {"zero1_state_bytes_per_rank", zero.optimizer().state_bytes()}};
  if (comm->rank() == 0) std::printf("%s\n", r.dump().c_str());
  return apps::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"ember-bench-dist: data-parallel ResNet-18 step, bucketed all-reduce and ZeRO-1 on the CPU; run "
               "as one process and under mpirun -np N"};
  app.add_option("--batch-size", o.batch_size, "global batch (a multiple of the ranks)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 16))
      ->capture_default_str();
  app.add_option("--reps", o.reps, "timed repetitions")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--warmup", o.warmup, "untimed repetitions first")->check(CLI::Range(0, 1000))->capture_default_str();
  return apps::run_main(app, argc, argv, [&] { return run(o); });
}
