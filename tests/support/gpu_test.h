// GpuTest: a fixture for suites that need a CUDA GPU. Where none is usable the test is
// skipped with the reason (CTest reports it as skipped, not passed).
#pragma once

#include <gtest/gtest.h>

#include "core/allocator.h"
#include "core/device.h"

namespace ember::testing {

inline const char* gpu_skip_reason() {
  if (!cuda_built()) return "CPU-only build (EMBER_CUDA=OFF): no CUDA backend to test";
  if (!cuda_available()) return "no CUDA GPU is available on this machine";
  return nullptr;
}

class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* reason = gpu_skip_reason()) GTEST_SKIP() << reason;
    set_allocation_poisoning(true);  // unwritten outputs read as NaN
  }
  void TearDown() override { set_allocation_poisoning(false); }
};

}  // namespace ember::testing
