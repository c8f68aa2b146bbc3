// scripts/get-cifar10.sh without the official host (offline failure, checksum failure, a
// complete run from a local file:// archive, idempotence) and the ember-data program (its
// subcommands and exit codes).
#include <gtest/gtest.h>

#include <filesystem>

#include "data/cifar10.h"
#include "data/synthetic.h"
#include "tests/data/data_test_util.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

namespace fs = std::filesystem;
using testing::run_command;
using testing::TempDir;

const std::string kScript = EMBER_SOURCE_DIR "/scripts/get-cifar10.sh";
const std::string kApp = EMBER_BINARY_DIR "/bin/ember-data";
// A URL that fails at once: nothing listens on port 9 of the loopback interface.
const std::string kDeadUrl = "http://127.0.0.1:9/cifar-10-binary.tar.gz";

bool have(const std::string& tools) {
  std::string out;
  return run_command("command -v " + tools, &out) == 0;
}

int lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

// Runs the script with `env` assignments in front; its exit status, output in *out.
int script(const std::string& env, const std::string& dest, std::string* out) {
  return run_command(env + " bash " + kScript + " " + dest, out);
}

TEST(GetCifar10, OfflineFailsWithOneLinePointingAtTheAlternatives) {
  if (!have("md5sum tar") || !(have("curl") || have("wget"))) GTEST_SKIP() << "needs md5sum, tar and curl or wget";
  TempDir tmp;
  std::string out;
  EXPECT_EQ(script("EMBER_CIFAR10_URL=" + kDeadUrl, tmp.path(), &out), 1) << out;
  EXPECT_EQ(lines(out), 2) << out;  // "downloading ..." then the error
  EXPECT_NE(out.find("get-cifar10: cannot download " + kDeadUrl), std::string::npos) << out;
  EXPECT_NE(out.find("--data synthetic"), std::string::npos) << out;
  EXPECT_NE(out.find("cifar10-mini"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(tmp.file("cifar-10-batches-bin")));
  EXPECT_FALSE(fs::exists(tmp.file("cifar-10-binary.tar.gz.part")));
}

class GetCifar10Local : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have("curl") || !have("md5sum tar")) GTEST_SKIP() << "needs curl (for file:// URLs), md5sum and tar";
    // A small archive in the official layout, made of synthetic data.
    splits_ = data::make_synthetic(7, 3, 5);
    data::write_cifar10_dir(tmp_.file("src/cifar-10-batches-bin"), splits_);
    std::string out;
    ASSERT_EQ(run_command("tar -czf " + archive() + " -C " + tmp_.file("src") + " cifar-10-batches-bin", &out), 0)
        << out;
    ASSERT_EQ(run_command("md5sum " + archive() + " | cut -d' ' -f1", &md5_), 0);
    md5_.erase(md5_.find_last_not_of('\n') + 1);
  }
  std::string archive() const { return tmp_.file("c.tar.gz"); }
  std::string env(const std::string& md5) const {
    return "EMBER_CIFAR10_URL=file://" + archive() + " EMBER_CIFAR10_MD5=" + md5;
  }

  TempDir tmp_;
  data::DataSplits splits_;
  std::string md5_;
};

TEST_F(GetCifar10Local, DownloadsChecksUnpacksAndThenDoesNothing) {
  std::string out;
  const std::string dest = tmp_.file("data");
  ASSERT_EQ(script(env(md5_), dest, &out), 0) << out;
  EXPECT_NE(out.find("ready in " + dest + "/cifar-10-batches-bin"), std::string::npos) << out;
  const data::DataSplits got = data::load_cifar10(dest);
  EXPECT_BIT_EQUAL(got.train.images, splits_.train.images);
  EXPECT_BIT_EQUAL(got.test.labels, splits_.test.labels);
  // Nothing left behind but the data.
  EXPECT_EQ(std::distance(fs::directory_iterator(dest), fs::directory_iterator()), 1);
  // Again: no download at all (the URL now points nowhere).
  ASSERT_EQ(script("EMBER_CIFAR10_URL=" + kDeadUrl, dest, &out), 0) << out;
  EXPECT_NE(out.find("already"), std::string::npos) << out;
}

TEST_F(GetCifar10Local, WrongChecksumIsRefusedAndRemoved) {
  std::string out;
  const std::string dest = tmp_.file("data");
  EXPECT_EQ(script(env("00000000000000000000000000000000"), dest, &out), 1) << out;
  EXPECT_NE(out.find("md5 of the download is " + md5_), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dest + "/cifar-10-binary.tar.gz"));
  EXPECT_FALSE(fs::exists(dest + "/cifar-10-binary.tar.gz.part"));
  EXPECT_FALSE(fs::exists(dest + "/cifar-10-batches-bin"));
}

class EmberDataApp : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kApp)) GTEST_FAIL() << kApp << " is missing: build the ember-data target";
  }
};

TEST_F(EmberDataApp, SyntheticThenCheck) {
  TempDir tmp;
  std::string out;
  ASSERT_EQ(run_command(kApp + " synthetic --out " + tmp.file("syn") + " --train 23 --test 4 --seed 2", &out), 0)
      << out;
  const data::DataSplits got = data::load_cifar10(tmp.file("syn"));
  EXPECT_BIT_EQUAL(got.train.images, data::make_synthetic(23, 4, 2).train.images);
  ASSERT_EQ(run_command(kApp + " check " + tmp.file("syn"), &out), 0) << out;
  EXPECT_NE(out.find("23 train, 4 test images"), std::string::npos) << out;
  EXPECT_NE(out.find("0 airplane"), std::string::npos) << out;
  ASSERT_EQ(run_command(kApp + " check synthetic:20,10 --limit-test 5", &out), 0) << out;
  EXPECT_NE(out.find("20 train, 5 test images"), std::string::npos) << out;
}

TEST_F(EmberDataApp, ExitCodes) {
  TempDir tmp;
  std::string out;
  EXPECT_EQ(run_command(kApp + " check " + tmp.file("missing"), &out), 1) << out;
  EXPECT_EQ(lines(out), 1) << out;
  EXPECT_NE(out.find("get-cifar10.sh"), std::string::npos) << out;
  EXPECT_EQ(run_command(kApp + " check synthetic:1", &out), 2) << out;
  EXPECT_EQ(run_command(kApp + " synthetic", &out), 2) << out;  // --out is required
  EXPECT_EQ(run_command(kApp + " bench --no-such-flag", &out), 2) << out;
  EXPECT_EQ(run_command(kApp + " bench --augment sideways", &out), 2) << out;
  EXPECT_EQ(run_command(kApp + " --help", &out), 0) << out;
}

TEST_F(EmberDataApp, BenchPrintsThroughputAndJson) {
  TempDir tmp;
  std::string out;
  ASSERT_EQ(run_command(kApp + " bench --images 300 --batch 64 --seconds 0.05 --threads 1 --json " + tmp.file("b.json"),
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("images/s"), std::string::npos) << out;
  const auto json = testing::read_bytes(tmp.file("b.json"));
  const std::string text(json.begin(), json.end());
  EXPECT_NE(text.find("\"data_augment_batch_cpu_standard_b64\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"images_per_s\""), std::string::npos) << text;
}

}  // namespace
}  // namespace ember
