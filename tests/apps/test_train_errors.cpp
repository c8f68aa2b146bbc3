// ember-train's errors as a user meets them: for each bad input, the exit code (1 a data or
// runtime error, 2 a usage error, 130 interrupted) and one line on stderr that names the
// problem.
#include <filesystem>

#include <gtest/gtest.h>

#include "core/device.h"
#include "tests/apps/train_helpers.h"

namespace ember::train {
namespace {

namespace fs = std::filesystem;
using namespace testing;

struct BadInput {
  std::string args;
  int exit_code;
  std::string says;  // a piece of the line on stderr
};

// Exactly one line on stderr, "ember-train: ..." (with "error: " for exit 1), holding `says`.
void expect_one_line(const Command& run, const BadInput& bad) {
  EXPECT_EQ(run.exit_code, bad.exit_code) << bad.args << "\n" << run.err;
  const std::string& err = run.err;
  ASSERT_FALSE(err.empty()) << bad.args;
  EXPECT_EQ(err.find('\n'), err.size() - 1) << bad.args << ": not one line:\n" << err;
  const std::string prefix = bad.exit_code == 1 ? "ember-train: error: " : "ember-train: ";
  EXPECT_EQ(err.rfind(prefix, 0), 0u) << bad.args << ": " << err;
  EXPECT_NE(err.find(bad.says), std::string::npos) << bad.args << ": " << err << "(expected: " << bad.says << ")";
}

TEST(TrainErrors, UsageErrorsExitTwoWithOneLine) {
  const std::string data = " --data synthetic:8,8 --device cpu --out /tmp/ember-train-test-usage";
  const std::vector<BadInput> cases = {
      {"--no-such-flag", 2, "The following argument was not expected: --no-such-flag (see --help)"},
      {"--epochs 0", 2, "--epochs: Value 0 not in range 1 to 100000"},
      {"--arch vgg", 2, "--arch: vgg not in {resnet18,resnet18-cifar}"},
      {"--optimizer adam:betta1=0.9" + data, 2, "unknown key 'betta1' for adam; valid keys: lr, beta1"},
      {"--optimizer nosuch" + data, 2, "nosuch"},
      {"--optimizer sgd:lr=-1" + data, 2, "sgd: invalid lr -1 (must be >= 0)"},
      {"--sweep lr=abc" + data, 2, "--sweep: 'abc' is not a positive number"},
      {"--sweep lr=1:0.1:0" + data, 2, "--sweep: the number of values must be an integer from 1 to 9999"},
      {"--shift 0:labels" + data, 2, "the shift epoch must be at least 2"},
      {"--shift 3:nonsense" + data, 2, "--shift expects E:labels or E:classes"},
      {"--shift 11:labels" + data, 2, "epoch 11 is beyond --epochs 10"},
      {"--shift 2:classes --classes 0-4" + data, 2, "leave out --classes"},
      {"--repeats 0" + data, 2, "--repeats: Value 0 not in range 1 to 1000"},
      {"--classes 3-12" + data, 2, "bad class list '3-12': '12' is not a class id in 0-9"},
      {"--reset-fc" + data, 2, "--reset-fc needs --weights"},
      {"--warmup-epochs 10" + data, 2, "--warmup-epochs 10 must be shorter than --epochs 10"},
      {"--target-accuracy 1.5" + data, 2, "--target-accuracy: Value 1.5 not in range"},
      {"--precision fp16" + data, 2, "--precision: fp16 not in {fp32,bf16}"},
      {"--device gpu --data synthetic:8,8", 2, "--device 'gpu' is not one of auto, cpu, cuda, cuda:N"},
      {"--device cuda:x --data synthetic:8,8", 2, "unknown device 'cuda:x'"},
  };
  for (const BadInput& bad : cases) expect_one_line(run_binary(bad.args), bad);
  EXPECT_FALSE(fs::exists("/tmp/ember-train-test-usage")) << "a usage error must come before any work";
  EXPECT_EQ(run_binary("--help").exit_code, 0);
}

TEST(TrainErrors, DataAndRuntimeErrorsExitOneWithOneLine) {
  const std::string out = (fs::temp_directory_path() / "ember-train-test-runtime").string();
  const std::vector<BadInput> cases = {
      {"--data /nonexistent/cifar --device cpu --out " + out, 1, "/nonexistent/cifar: no CIFAR-10 data there"},
      {"--resume /nonexistent/run", 1, "--resume /nonexistent/run: no checkpoint there"},
      {"--weights /nonexistent.safetensors --data synthetic:8,8 --device cpu --epochs 1 --out " + out, 1,
       "--weights /nonexistent.safetensors: no such file"},
  };
  for (const BadInput& bad : cases) expect_one_line(run_binary(bad.args), bad);
  fs::remove_all(out);
  // --device cuda where no GPU is usable: CUDA's own reason (core's cuda_unavailable_reason:
  // no CUDA in this build, no device, a driver too old, ...).
  const std::string no_gpu = cuda_unavailable_reason();
  if (no_gpu.empty()) GTEST_SKIP() << "a GPU is usable here: --device cuda is no error to check";
  expect_one_line(run_binary("--device cuda --data synthetic:8,8 --out " + out), {"--device cuda", 1, no_gpu});
  EXPECT_FALSE(fs::exists(out)) << "a missing GPU must be found before any work";
}

TEST(TrainErrors, InterruptedExitsOneHundredThirtyAndSaysHowToGoOn) {
  const std::string out = (fs::temp_directory_path() / "ember-train-test-interrupted").string();
  fs::remove_all(out);
  // --stop-after-steps: the test aid that acts as Ctrl-C after N steps.
  const Command run = run_binary("--data synthetic:32,8 --device cpu --batch-size 16 --epochs 1 --optimizer sgd "
                                 "--stop-after-steps 1 --out " + out);
  EXPECT_EQ(run.exit_code, 130) << run.err;
  EXPECT_NE(run.out.find("interrupted: checkpoint written; continue with: ember-train --resume " + out),
            std::string::npos)
      << run.out;
  EXPECT_TRUE(fs::exists(fs::path(out) / "checkpoint.safetensors"));
  const Command resumed = run_binary("--resume " + out + " --quiet");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(fs::exists(fs::path(out) / "summary.json"));
  fs::remove_all(out);
}

}  // namespace
}  // namespace ember::train
