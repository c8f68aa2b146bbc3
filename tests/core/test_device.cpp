// Device detection (Note [device detection] in core/device.cpp) and Note [one GPU per
// process]: runs on every machine, no skip. Without a usable GPU, the reason names CUDA's
// error (cudaErrorNoDevice, cudaErrorInsufficientDriver, ...) or the CPU-only build, and so do
// --device cuda's error and the GPU tests' skip reason; with one, cuda:0 works and cuda:1 is
// one clear error that says how to use another GPU.
#include <string>

#include <gtest/gtest.h>

#include "core/device.h"
#include "core/error.h"
#include "tests/support/gpu_test.h"

namespace ember {
namespace {

std::string error_of(Device d) {
  try {
    check_device_usable(d);
  } catch (const Error& e) {
    return e.message();
  }
  return "";
}

TEST(Device, UnusableGpusSayWhyWithCudasErrorName) {
  const std::string reason = cuda_unavailable_reason();
  if (reason.empty()) {
    EXPECT_TRUE(cuda_available());
    EXPECT_GE(cuda_device_count(), 1);
    EXPECT_EQ(error_of(Device::cuda(0)), "");
    EXPECT_EQ(testing::gpu_skip_reason(), nullptr);
    return;
  }
  EXPECT_FALSE(cuda_available());
  EXPECT_EQ(cuda_device_count(), 0);
  if (cuda_built()) {
    // "no CUDA GPU is available (cudaErrorNoDevice: ...)" or "... usable (cudaErrorXxx: ...)".
    EXPECT_NE(reason.find("no CUDA GPU is"), std::string::npos) << reason;
    EXPECT_NE(reason.find("(cudaError"), std::string::npos) << reason;
    EXPECT_NE(reason.find(": "), std::string::npos) << reason;  // the error's text after its name
  } else {
    EXPECT_NE(reason.find("no CUDA support"), std::string::npos) << reason;
  }
  EXPECT_NE(error_of(Device::cuda(0)).find(reason), std::string::npos) << "--device cuda must carry the reason";
  ASSERT_NE(testing::gpu_skip_reason(), nullptr);
  EXPECT_EQ(std::string(testing::gpu_skip_reason()), reason);
}

TEST(Device, OnlyTheFirstGpuIsUsed) {
  // The refusal's text on every machine (no GPU needed to read it) ...
  EXPECT_EQ(other_gpu_refusal(Device::cpu(), 2), "");
  EXPECT_EQ(other_gpu_refusal(Device::cuda(0), 2), "");
  EXPECT_EQ(other_gpu_refusal(Device::cuda(3), 2),
            "cuda:3 requested, but ember runs on one GPU per process, cuda:0 (2 visible here); to use another GPU, "
            "select it with CUDA_VISIBLE_DEVICES (e.g. CUDA_VISIBLE_DEVICES=3 and --device cuda)");
  EXPECT_NE(other_gpu_refusal(Device::cuda(1), 1).find("cuda:1 requested"), std::string::npos);
  EXPECT_EQ(Device::parse("cuda:1"), Device::cuda(1));  // parsing is fine; using it is not
  // ... and what check_device_usable says here: that refusal on a GPU machine, the reason
  // there is no GPU elsewhere (it comes first: cuda:1 is no more usable than cuda:0).
  const std::string message = error_of(Device::cuda(1));
  if (cuda_available())
    EXPECT_EQ(message, other_gpu_refusal(Device::cuda(1), cuda_device_count()));
  else
    EXPECT_EQ(message, cuda_unavailable_reason() + "; use the CPU");
  EXPECT_FALSE(error_of(Device::cuda(2)).empty());
}

TEST(Device, AutoFallsBackToTheCpuWithOneWarning) {
  ::testing::internal::CaptureStderr();
  const Device d = resolve_device("auto", "test_device");
  const std::string warning = ::testing::internal::GetCapturedStderr();
  if (cuda_available()) {
    EXPECT_EQ(d, Device::cuda(0));
    EXPECT_EQ(warning, "");
  } else {
    EXPECT_EQ(d, Device::cpu());
    EXPECT_EQ(warning, "test_device: warning: " + cuda_unavailable_reason() + ": running on the CPU\n");
  }
  EXPECT_EQ(resolve_device("cpu", "test_device"), Device::cpu());
  EXPECT_THROW(resolve_device("gpu", "test_device"), UsageError);
}

}  // namespace
}  // namespace ember
