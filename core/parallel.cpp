#include "core/parallel.h"

#include <cblas.h>
#include <omp.h>
#include <sched.h>

#include <cstdlib>

namespace ember {

namespace {

int default_threads() {
  if (const char* env = std::getenv("EMBER_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  return omp_get_num_procs();
}

int& current() {
  static int threads = [] {
    const int n = default_threads();
    omp_set_num_threads(n);
    openblas_set_num_threads(1);  // Note [one BLAS thread]
    return n;
  }();
  return threads;
}

}  // namespace

int num_threads() { return current(); }

void set_num_threads(int n) {
  if (n <= 0) n = default_threads();
  current() = n;
  omp_set_num_threads(n);
}

}  // namespace ember
