// AsyncReadback on CUDA (core/readback.h): values posted are the ones queued before the post,
// not work queued after it, with no synchronisation at the post.
#include <gtest/gtest.h>

#include "core/readback.h"
#include "tests/core/cuda_vs_cpu.h"

namespace ember {
namespace {

using CudaReadback = testing::GpuTest;

TEST_F(CudaReadback, ReadsDeviceScalarsAsOfThePost) {
  AsyncReadback r;
  Tensor a = full({}, 3.0, Device::cuda()), b = sum(arange(4, TensorOptions(Device::cuda()).dtype(DType::Int64)));
  r.post({a, b});
  a.fill_(7.0);  // queued after the copy: must not show
  EXPECT_EQ(r.take(), (std::vector<double>{3.0, 6.0}));
}

}  // namespace
}  // namespace ember
