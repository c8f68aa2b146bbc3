#include "apps/ember-bench-optim/timing.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/ops.h"
#include "core/parallel.h"

namespace ember::bench {

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Writes 128 MiB so that nothing the measured work touches is still in a CPU cache.
void flush_cpu_caches() {
  static std::vector<char> scratch(size_t(128) << 20);
  std::memset(scratch.data(), static_cast<int>(scratch[0] + 1), scratch.size());
}

double cpu_median_ms(const std::function<void()>& work, const TimingOptions& o) {
  for (int i = 0; i < o.warmup; ++i) work();
  std::vector<double> ms;
  for (int i = 0; i < o.reps; ++i) {
    flush_cpu_caches();
    const auto start = Clock::now();
    work();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  return median(ms);
}

// dst = src with non-temporal (streaming) stores: a store that misses the cache then writes
// the line without first reading it for ownership, so the bytes counted (read + written) are
// the bytes that move. dst and src are 64-byte aligned; n is a multiple of 16.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) void stream_copy_avx512(float* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) _mm512_stream_ps(dst + i, _mm512_load_ps(src + i));
  _mm_sfence();
}
#endif

void stream_copy(float* dst, const float* src, int64_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx512f")) return stream_copy_avx512(dst, src, n);
  for (int64_t i = 0; i < n; i += 4) _mm_stream_ps(dst + i, _mm_load_ps(src + i));
  _mm_sfence();
#else
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
#endif
}

// The better of memcpy and a streaming-store copy, split over the threads: glibc's memcpy
// does not always stream (then every destination line is read before it is written, and the
// copy looks a third slower than the memory is), and the step should be held to the best copy.
// Even so, an in-place update (the optimiser reads and writes the same lines) can beat any
// copy on some machines - the 2-core CI-like VM here moves ~70 GB/s read-modify-write but at
// most ~60 GB/s copying - so fraction_of_copy may exceed 1 there.
double cpu_copy_gb_per_s(const TimingOptions& o) {
  const int64_t n = int64_t(64) << 20;             // 256 MiB of floats each way
  const Tensor src = ones({n}), dst = zeros({n});  // touched: pages are mapped
  const float* s = src.data<float>();
  float* d = dst.data<float>();
  double best = 0;
  for (const bool use_memcpy : {true, false}) {
    const double ms = cpu_median_ms(
        [&] {
#pragma omp parallel num_threads(num_threads())
          {
            const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
            const int64_t chunk = (n / threads + 15) / 16 * 16;
            const int64_t begin = std::min(n, t * chunk), end = std::min(n, begin + chunk);
            if (use_memcpy)
              std::memcpy(d + begin, s + begin, static_cast<size_t>(end - begin) * sizeof(float));
            else
              stream_copy(d + begin, s + begin, end - begin);
          }
        },
        o);
    best = std::max(best, 2.0 * double(n) * sizeof(float) / (ms * 1e6));
  }
  return best;
}

}  // namespace

double median_ms(Device device, const std::function<void()>& work, const TimingOptions& options) {
  return device.is_cpu() ? cpu_median_ms(work, options) : cuda_median_ms(work, options);
}

double copy_gb_per_s(Device device, const TimingOptions& options) {
  return device.is_cpu() ? cpu_copy_gb_per_s(options) : cuda_copy_gb_per_s(options);
}

}  // namespace ember::bench
