// ember-summary as a user runs it: output, exit codes (0 ok, 1 runtime error, 2 usage
// error, one line on stderr), --help, and the checkpoint/output files of the interop check
// (saving, loading and re-running a model reproduces its output bit for bit).
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "core/device.h"
#include "nn/safetensors.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

namespace fs = std::filesystem;

struct CliResult {
  int code = -1;
  std::string out, err;
};

class SummaryCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ember_summary_cli_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  CliResult run(const std::string& args) const {
    const std::string err_file = path("stderr.txt");
    const std::string cmd = std::string(EMBER_BINARY_DIR) + "/bin/ember-summary " + args + " 2>" + err_file;
    CliResult r;
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (pipe == nullptr) return r;
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) r.out.append(buffer, n);
    const int status = ::pclose(pipe);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(err_file);
    r.err.assign(std::istreambuf_iterator<char>(in), {});
    return r;
  }

  fs::path dir_;
};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

TEST_F(SummaryCli, TableEndsWithTheParameterCounts) {
  const CliResult r = run("--arch resnet18-cifar --batch-size 4");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(ends_with(r.out, "total parameters: 11173962\ntrainable parameters: 11173962\n")) << r.out;
  EXPECT_NE(r.out.find("layer4.1.conv2 (Conv2d)"), std::string::npos);
  EXPECT_NE(r.out.find("forward FLOPs at batch size 4"), std::string::npos);
  const CliResult q = run("--arch resnet18 --quiet");
  ASSERT_EQ(q.code, 0) << q.err;
  EXPECT_EQ(q.out, "total parameters: 11181642\ntrainable parameters: 11181642\n");
}

TEST_F(SummaryCli, ExitCodesAndOneLineErrors) {
  for (const char* bad : {"--arch resnet50", "--classes 0", "--batch-size -3", "--no-such-flag", "--device gpu"}) {
    const CliResult r = run(bad);
    EXPECT_EQ(r.code, 2) << bad << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << bad << ": " << r.err;
  }
  const CliResult missing = run("--load " + path("missing.safetensors"));
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("missing.safetensors"), std::string::npos) << missing.err;
  if (!cuda_available()) {
    const CliResult cuda = run("--device cuda --quiet");
    EXPECT_EQ(cuda.code, 1) << cuda.err;
  }
  const CliResult help = run("--help");
  EXPECT_EQ(help.code, 0);
  for (const char* flag : {"--arch", "--classes", "--batch-size", "--image-size", "--device", "--seed", "--load",
                           "--bn-warmup", "--save-random-init", "--dump-output", "--input", "--tf32"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
}

TEST_F(SummaryCli, SavedModelReproducesItsOutput) {
  const std::string model = path("model.safetensors"), first = path("first.safetensors"),
                    second = path("second.safetensors");
  CliResult r = run("--arch resnet18-cifar --seed 4 --bn-warmup 2 --batch-size 3 --quiet --save-random-init " + model +
              " --dump-output " + first);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("--arch resnet18-cifar --seed 99 --quiet --load " + model + " --input " + first + " --dump-output " + second);
  ASSERT_EQ(r.code, 0) << r.err;
  const nn::SafetensorsContents a = nn::load_safetensors(first), b = nn::load_safetensors(second);
  ASSERT_NE(a.find("output"), nullptr);
  ASSERT_NE(b.find("output"), nullptr);
  EXPECT_EQ(a.find("output")->sizes(), (Shape{3, 10}));
  EXPECT_TRUE(testing::bit_equal(*b.find("output"), *a.find("output")));
  const nn::SafetensorsContents state = nn::load_safetensors(model);
  ASSERT_NE(state.find("layer1.0.bn1.num_batches_tracked"), nullptr);
  EXPECT_EQ(state.find("layer1.0.bn1.num_batches_tracked")->item<int64_t>(), 2);
}

}  // namespace
}  // namespace ember
