// Choosing the CPU layers (Note [CPU layer backends] in nn/layer_backend.h): the names, the
// default (oneDNN where built), switching in-process, EMBER_CPU_LAYERS as a program sees it
// (ember-summary runs a forward pass), and the clear errors of a bad name or of oneDNN in a
// build without it.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "nn/layer_backend.h"
#include "tests/nn/nn_test_util.h"

namespace ember {
namespace {

using nn::CpuLayers;

TEST(CpuLayersChoice, NamesParseBothWaysAndBadNamesAreUsageErrors) {
  for (CpuLayers layers : {CpuLayers::Reference, CpuLayers::OneDnn})
    EXPECT_EQ(nn::parse_cpu_layers(nn::cpu_layers_name(layers)), layers);
  try {
    nn::parse_cpu_layers("mkl");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown CPU layers 'mkl' (choose reference or onednn)"), std::string::npos)
        << e.what();
  }
}

TEST(CpuLayersChoice, DefaultIsOnednnWhereBuilt) {
  const char* env = std::getenv("EMBER_CPU_LAYERS");
  if (env != nullptr && *env != '\0') GTEST_SKIP() << "EMBER_CPU_LAYERS=" << env << " is set for this run";
  EXPECT_EQ(nn::cpu_layers(), nn::onednn_layers_built() ? CpuLayers::OneDnn : CpuLayers::Reference);
}

TEST(CpuLayersChoice, SwitchingInProcess) {
  {
    testing::CpuLayersScope scope(CpuLayers::Reference);
    EXPECT_EQ(&nn::cpu_layer_backend(), &nn::reference_layer_backend());
  }
  if (!nn::onednn_layers_built()) {
    EXPECT_THROW(nn::set_cpu_layers(CpuLayers::OneDnn), Error);
    try {
      nn::onednn_layer_backend();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("no oneDNN CPU layers"), std::string::npos) << e.what();
    }
    return;
  }
  testing::CpuLayersScope scope(CpuLayers::OneDnn);
  EXPECT_EQ(&nn::cpu_layer_backend(), &nn::onednn_layer_backend());
  EXPECT_NE(&nn::onednn_layer_backend(), &nn::reference_layer_backend());
}

struct ProgramRun {
  int code = -1;
  std::string err;
};

// ember-summary with EMBER_CPU_LAYERS set (it runs the model's forward pass on the CPU).
ProgramRun summary_with(const std::string& layers) {
  const std::string err_file = std::string(EMBER_BINARY_DIR) + "/cpu_layers_choice_" + layers + ".err";
  const std::string cmd = "EMBER_CPU_LAYERS=" + layers + " " + EMBER_BINARY_DIR +
                          "/bin/ember-summary --arch resnet18 --batch-size 1 >/dev/null 2>" + err_file;
  ProgramRun r;
  const int status = std::system(cmd.c_str());
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (FILE* f = std::fopen(err_file.c_str(), "r")) {
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) r.err.append(buffer, n);
    std::fclose(f);
  }
  std::remove(err_file.c_str());
  return r;
}

TEST(CpuLayersChoice, EnvironmentVariableAsAProgramSeesIt) {
  EXPECT_EQ(summary_with("reference").code, 0);
  const ProgramRun onednn = summary_with("onednn");
  if (nn::onednn_layers_built()) {
    EXPECT_EQ(onednn.code, 0) << onednn.err;
  } else {
    EXPECT_EQ(onednn.code, 2);
    EXPECT_NE(onednn.err.find("no oneDNN CPU layers"), std::string::npos) << onednn.err;
  }
  const ProgramRun bad = summary_with("fast");
  EXPECT_EQ(bad.code, 2) << "a bad EMBER_CPU_LAYERS is a usage error";
  EXPECT_NE(bad.err.find("EMBER_CPU_LAYERS=fast: unknown CPU layers 'fast'"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace ember
