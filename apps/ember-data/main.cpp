// ember-data: CIFAR-10 data tools.
//   ember-data synthetic --out DIR [--train N] [--test M] [--seed S]
//       writes synthetic data as CIFAR-10 binary files (data_batch_1..5.bin, test_batch.bin)
//   ember-data check DATA [--limit-train N] [--limit-test M]
//       loads DATA (a folder, synthetic or synthetic:N,M) and prints counts, the label
//       histogram and the per-channel pixel statistics
//   ember-data bench [--device cpu|cuda] [--batch B] [--images N] [--json FILE]
//       loader throughput in images/s: the batch executor alone and the Loader end to end
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "apps/common/app_main.h"
#include "core/backend.h"
#include "core/device.h"
#include "core/parallel.h"
#include "data/augment.h"
#include "data/cifar10.h"
#include "data/loader.h"
#include "data/shuffle.h"
#include "data/source.h"
#include "data/synthetic.h"

namespace ember {
namespace {

struct Options {
  // synthetic
  std::string out;
  int64_t train = data::kSyntheticDefaultTrain, test = data::kSyntheticDefaultTest;
  uint64_t seed = 0;
  // check
  std::string data_spec;
  int64_t limit_train = -1, limit_test = -1;
  // bench
  std::string device = "cpu", augment = "standard", normalize = "cifar", json;
  int64_t batch = 256, images = 10000;
  double seconds = 2.0;
  int threads = 0;
};

int run_synthetic(const Options& o) {
  const data::DataSplits s = data::make_synthetic(o.train, o.test, o.seed);
  data::write_cifar10_dir(o.out, s);
  std::printf("wrote %s to %s\n", s.description.c_str(), o.out.c_str());
  return apps::kExitOk;
}

void print_split(const char* name, const data::Dataset& d) {
  std::printf("%s: %lld images\n", name, static_cast<long long>(d.size()));
  if (d.size() == 0) return;
  const std::vector<int64_t> hist = data::label_histogram(d);
  const int64_t most = *std::max_element(hist.begin(), hist.end());
  for (int c = 0; c < data::kNumClasses; ++c) {
    const int bar = most > 0 ? static_cast<int>(std::lround(40.0 * hist[c] / most)) : 0;
    std::printf("  %d %-10s %7lld  %s\n", c, data::cifar10_class_names()[c].c_str(), static_cast<long long>(hist[c]),
                std::string(bar, '#').c_str());
  }
  // Per-channel mean and std of pixel / 255 (compare with the `cifar` normalisation preset).
  const auto px = d.images.to_vector<uint8_t>();
  double sum[3] = {}, sum2[3] = {};
  for (size_t i = 0; i < px.size(); ++i) {
    const int c = static_cast<int>((i / 1024) % 3);
    const double v = px[i] / 255.0;
    sum[c] += v, sum2[c] += v * v;
  }
  const double n = static_cast<double>(px.size()) / 3;
  std::printf("  pixel/255 mean R,G,B %.4f,%.4f,%.4f  std %.4f,%.4f,%.4f\n", sum[0] / n, sum[1] / n, sum[2] / n,
              std::sqrt(sum2[0] / n - sum[0] * sum[0] / n / n), std::sqrt(sum2[1] / n - sum[1] * sum[1] / n / n),
              std::sqrt(sum2[2] / n - sum[2] * sum[2] / n / n));
}

int run_check(const Options& o) {
  const data::DataSplits s = data::load_data(o.data_spec, o.limit_train, o.limit_test, o.seed);
  std::printf("%s\n", s.description.c_str());
  print_split("train", s.train);
  print_split("test", s.test);
  return apps::kExitOk;
}

// Repeats `body` (which handles `per_call` images) for about `seconds` after a warm-up;
// returns images per second. `sync` waits for queued device work.
double images_per_second(const std::function<void()>& body, int64_t per_call, double seconds,
                         const std::function<void()>& sync) {
  using clock = std::chrono::steady_clock;
  body();
  sync();
  int64_t calls = 0;
  const auto t0 = clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    for (int i = 0; i < 10; ++i, ++calls) body();
    sync();
    elapsed = std::chrono::duration<double>(clock::now() - t0).count();
  }
  return static_cast<double>(calls * per_call) / elapsed;
}

int run_bench(const Options& o) {
  const Device device = Device::parse(o.device);
  check_device_usable(device);
  EMBER_USAGE_CHECK(o.batch >= 1 && o.images >= o.batch, "need 1 <= --batch <= --images");
  const data::Augment augment = data::parse_augment(o.augment);
  const data::Normalization norm = data::parse_normalization(o.normalize);
  const auto sync = [&] { backend_for(device).synchronize(); };
  const data::Dataset host = data::make_synthetic_split(o.images, 0, data::SyntheticSplit::Train);
  std::printf("device %s, %lld synthetic images, batch %lld, augment %s, normalise %s\n", device_name(device).c_str(),
              static_cast<long long>(o.images), static_cast<long long>(o.batch), data::augment_name(augment),
              o.normalize.c_str());

  // 1. The batch executor alone (one kernel per batch on a GPU), cycling through an epoch.
  const std::vector<int64_t> order = data::epoch_order(o.images, 0, 0);
  const data::BatchSource src = {data::to_device(host, device), from_vector(order, {o.images}).to(device),
                                 data::normalize_table(norm, device)};
  const auto params = data::augment_params(augment, 0, 0);
  Tensor images = empty({o.batch, 3, 32, 32}, TensorOptions(DType::Float32).device(device));
  Tensor labels = empty({o.batch}, TensorOptions(DType::Int64).device(device));
  const int64_t batches = o.images / o.batch;
  int64_t next = 0;
  const double executor = images_per_second(
      [&] { data::augment_batch(src, (next++ % batches) * o.batch, o.batch, params, images, labels); }, o.batch,
      o.seconds, sync);

  // 2. The Loader end to end: shuffle, prefetch, a fresh batch per step.
  data::LoaderOptions lo;
  lo.batch_size = o.batch;
  lo.augment = augment;
  lo.normalize = norm;
  lo.device = device;
  lo.drop_last = true;
  data::Loader loader(host, lo);
  int64_t epoch = 0;
  loader.start_epoch(epoch);
  data::Batch batch;
  const double end_to_end = images_per_second(
      [&] {
        if (!loader.next(batch)) {
          loader.start_epoch(++epoch);
          loader.next(batch);
        }
      },
      o.batch, o.seconds, sync);

  const std::string where = device.is_cuda() ? "gpu" : "cpu";
  std::printf("batch executor (%s): %.0f images/s\n", device.is_cuda() ? "one kernel per batch" : "OpenMP over images",
              executor);
  std::printf("loader end to end:  %.0f images/s\n", end_to_end);
  if (!o.json.empty()) {
    const std::string tag = fmt::format("{}_{}_b{}", where, data::augment_name(augment), o.batch);
    nlohmann::json j;
    j["benchmarks"] = nlohmann::json::array({{{"name", "data_augment_batch_" + tag},
                                              {"unit", "images_per_s"},
                                              {"ember", executor},
                                              {"device", device_name(device)},
                                              {"target", device.is_cuda() ? 1e6 : 0.0}},
                                             {{"name", "data_loader_" + tag},
                                              {"unit", "images_per_s"},
                                              {"ember", end_to_end},
                                              {"device", device_name(device)}}});
    std::ofstream f(o.json);
    f << j.dump(1) << "\n";
    EMBER_CHECK(f.good(), "{}: cannot write", o.json);
  }
  return apps::kExitOk;
}

}  // namespace
}  // namespace ember

int main(int argc, char** argv) {
  using namespace ember;
  Options o;
  CLI::App app("CIFAR-10 data tools: write synthetic data, check a data set, measure the loader", "ember-data");
  app.require_subcommand(1);

  CLI::App* syn = app.add_subcommand("synthetic", "Write synthetic data as CIFAR-10 binary files");
  syn->add_option("--out", o.out, "Folder to write data_batch_1..5.bin, test_batch.bin, batches.meta.txt into")
      ->required();
  syn->add_option("--train", o.train, "Train images (split over the five data batches)")->check(CLI::NonNegativeNumber);
  syn->add_option("--test", o.test, "Test images")->check(CLI::NonNegativeNumber);
  syn->add_option("--seed", o.seed, "Generator seed (the same seed writes the same bytes)");

  CLI::App* check = app.add_subcommand("check", "Load a data set and print counts, label histogram, pixel statistics");
  check->add_option("data", o.data_spec, "A CIFAR-10 folder (or its parent), synthetic, or synthetic:NTRAIN,NTEST")
      ->required();
  check->add_option("--limit-train", o.limit_train, "Use only the first N train images (default: all)");
  check->add_option("--limit-test", o.limit_test, "Use only the first N test images (default: all)");
  check->add_option("--seed", o.seed, "Seed of synthetic data");

  CLI::App* bench = app.add_subcommand("bench", "Measure loader throughput (images/s) on synthetic data");
  bench->add_option("--device", o.device, "cpu, cuda or cuda:N");
  bench->add_option("--batch", o.batch, "Batch size");
  bench->add_option("--images", o.images, "Synthetic images in the data set");
  bench->add_option("--augment", o.augment, "none or standard");
  bench->add_option("--normalize", o.normalize, "half, cifar or M,M,M/S,S,S");
  bench->add_option("--seconds", o.seconds, "Seconds per measurement")->check(CLI::PositiveNumber);
  bench->add_option("--threads", o.threads, "CPU threads (default: EMBER_NUM_THREADS or all cores)");
  bench->add_option("--json", o.json, "Also write the figures as {\"benchmarks\": [...]} to this file");

  return apps::run_main(app, argc, argv, [&] {
    if (o.threads > 0) set_num_threads(o.threads);
    if (syn->parsed()) return run_synthetic(o);
    if (check->parsed()) return run_check(o);
    return run_bench(o);
  });
}
