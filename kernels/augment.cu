// CIFAR batch kernel: one training batch from the device-resident uint8 data set in one
// launch (gather by the epoch order, random crop with zero padding, random horizontal flip,
// per-channel normalisation, label gather). The rules are those of kernels/augment_rule.h;
// the CPU reference is data/augment.cpp's loop over the same functions.
//
// Layout: one block per image at a time (grid-stride over the batch's images); the block's
// threads write the image's 768 float4 (4 consecutive pixels of one row, so a row is 8
// float4 and never crosses a plane). Each thread evaluates the image's Philox draw itself:
// one Philox per thread per image is cheaper than a shared-memory broadcast and a barrier.
// The 3 KB normalisation table lives in shared memory, read with data-dependent indices.
// Bytes moved per image: 3072 read (cached: a row is reused by 4 threads) + 12288 written,
// so 1M images/s is 15 GB/s, far below the memory bandwidth: the kernel is launch- and
// latency-bound for training batch sizes.
#include <cstdint>

#include "kernels/augment.h"
#include "kernels/launch.cuh"

namespace ember::kernels {

namespace {

constexpr int kQuadsPerImage = kImageBytes / 4;  // float4 outputs per image (768)
constexpr int kQuadsPerRow = kImageSide / 4;     // 8

__global__ void __launch_bounds__(kBlock) augment_batch_kernel(const AugmentBatchArgs a) {
  __shared__ float table[kNormalizeTableSize];
  for (int i = threadIdx.x; i < kNormalizeTableSize; i += blockDim.x) table[i] = a.table[i];
  __syncthreads();
  for (int64_t b = blockIdx.x; b < a.count; b += gridDim.x) {
    const int64_t position = a.first + b;
    const int64_t src = a.order[position];
    const uint8_t* __restrict__ image = a.images + src * kImageBytes;
    const AugmentDraw d = augment_draw(a.params, position);
    if (threadIdx.x == 0) a.out_labels[b] = a.labels[src];
    float4* __restrict__ out = reinterpret_cast<float4*>(a.out_images + b * kImageBytes);
    for (int q = threadIdx.x; q < kQuadsPerImage; q += blockDim.x) {
      const int c = q / (kImagePlane / 4), y = (q / kQuadsPerRow) % kImageSide, x = (q % kQuadsPerRow) * 4;
      out[q] = make_float4(augment_pixel(image, table, d, c, y, x), augment_pixel(image, table, d, c, y, x + 1),
                           augment_pixel(image, table, d, c, y, x + 2), augment_pixel(image, table, d, c, y, x + 3));
    }
  }
}

}  // namespace

cudaError_t launch_augment_batch(const AugmentBatchArgs& args, cudaStream_t stream) {
  if (args.count <= 0) return cudaSuccess;
  if (reinterpret_cast<uintptr_t>(args.out_images) % 16 != 0) return cudaErrorInvalidValue;
  // One block per image up to a few waves; the grid-stride loop covers larger batches.
  const int grid = static_cast<int>(std::min<int64_t>(args.count, int64_t(multiprocessor_count()) * 8));
  augment_batch_kernel<<<grid, kBlock, 0, stream>>>(args);
  return cudaGetLastError();
}

}  // namespace ember::kernels
