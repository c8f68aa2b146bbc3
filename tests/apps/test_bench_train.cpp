// ember-bench-train (the step benchmark) on the CPU: every mode runs, bad flags are usage
// errors, --device cuda without a GPU is a runtime error.
#include <string>

#include <gtest/gtest.h>

#include "core/device.h"
#include "tests/apps/train_helpers.h"

namespace ember::train {
namespace {

using namespace testing;

TEST(BenchTrain, RunsEveryModeOnTheCpuAndRefusesBadFlags) {
  auto code = [](const std::string& args) { return run_binary(args, "ember-bench-train").exit_code; };
  const std::string base = "--device cpu --batch-size 2 --steps 1 --warmup 0 --json";
  EXPECT_EQ(code(base), 0);
  EXPECT_EQ(code(base + " --arch resnet18-cifar --precision bf16 --channels-last"), 0);
  EXPECT_EQ(code(base + " --cuda-graph"), 2);  // a usage error without a GPU
  EXPECT_EQ(code(base + " --precision fp16"), 2);
  const Command cuda = run_binary("--device cuda --steps 1", "ember-bench-train");
  if (cuda_available()) {
    EXPECT_EQ(cuda.exit_code, 0) << cuda.err;
  } else {  // CUDA's reason, on one line
    EXPECT_EQ(cuda.exit_code, 1);
    EXPECT_EQ(cuda.err.rfind("ember-bench-train: error: " + cuda_unavailable_reason(), 0), 0u) << cuda.err;
    EXPECT_EQ(cuda.err.find('\n'), cuda.err.size() - 1) << cuda.err;
  }
}

}  // namespace
}  // namespace ember::train
