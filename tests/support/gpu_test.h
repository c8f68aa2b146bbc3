// GpuTest: a fixture for suites that need a CUDA GPU. Where none is usable the test is
// skipped with the reason (CTest reports it as skipped, not passed): a CPU-only build, or the
// CUDA runtime's error name and text from looking for a GPU (Note [device detection] in
// core/device.cpp), so a skip on a GPU machine says what to fix.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "core/allocator.h"
#include "core/device.h"

namespace ember::testing {

// Null when a GPU is usable (the probe runs once per process, so the text is kept).
inline const char* gpu_skip_reason() {
  static const std::string reason = cuda_unavailable_reason();
  return reason.empty() ? nullptr : reason.c_str();
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
