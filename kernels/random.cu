// Philox random fills: one thread per counter writes its four elements (Note [random
// streams] in kernels/philox.h), so each Philox evaluation serves four outputs.
#include <cstdint>

#include "kernels/launch.cuh"
#include "kernels/philox.h"
#include "kernels/random.h"

namespace ember::kernels {

namespace {

template <class T, bool Normal>
__global__ void __launch_bounds__(kBlock)
    random_kernel(T* out, int64_t n, uint64_t seed, uint64_t counter0, double a, double b) {
  const int64_t counters = (n + 3) / 4;
  for (int64_t c = global_thread(); c < counters; c += grid_stride()) {
    const PhiloxWords r = philox4x32_10(seed, counter0 + static_cast<uint64_t>(c));
    for (int lane = 0; lane < 4; ++lane) {
      const int64_t i = 4 * c + lane;
      if (i < n) out[i] = Normal ? normal_lane<T>(r, lane, a, b) : uniform_lane<T>(r, lane, a, b);
    }
  }
}

}  // namespace

template <class T>
cudaError_t launch_random_uniform(T* out, int64_t n, uint64_t seed, uint64_t counter0, double low, double high,
                                  cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  random_kernel<T, false><<<grid_for((n + 3) / 4), kBlock, 0, stream>>>(out, n, seed, counter0, low, high);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_random_normal(T* out, int64_t n, uint64_t seed, uint64_t counter0, double mean, double std,
                                 cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  random_kernel<T, true><<<grid_for((n + 3) / 4), kBlock, 0, stream>>>(out, n, seed, counter0, mean, std);
  return cudaGetLastError();
}

template cudaError_t launch_random_uniform<float>(float*, int64_t, uint64_t, uint64_t, double, double, cudaStream_t);
template cudaError_t launch_random_uniform<double>(double*, int64_t, uint64_t, uint64_t, double, double, cudaStream_t);
template cudaError_t launch_random_normal<float>(float*, int64_t, uint64_t, uint64_t, double, double, cudaStream_t);
template cudaError_t launch_random_normal<double>(double*, int64_t, uint64_t, uint64_t, double, double, cudaStream_t);

}  // namespace ember::kernels
