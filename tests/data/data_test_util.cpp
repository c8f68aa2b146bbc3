#include "tests/data/data_test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "kernels/augment_rule.h"

namespace ember::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "test";
  path_ = (fs::temp_directory_path() /
           ("ember-data-" + name + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++)))
              .string();
  fs::remove_all(path_);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

data::Dataset patterned_dataset(int64_t n, uint64_t salt) {
  data::Dataset d = data::empty_dataset(n);
  auto* px = d.images.data<uint8_t>();
  auto* lb = d.labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    lb[i] = (i * 7 + static_cast<int64_t>(salt)) % 10;
    for (int j = 0; j < kernels::kImageBytes; ++j)
      px[i * kernels::kImageBytes + j] =
          static_cast<uint8_t>((i * 131 + j * 17 + static_cast<int64_t>(salt) * 29 + j / 97) & 0xFF);
  }
  return d;
}

std::vector<data::Batch> epoch_batches(data::Loader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<data::Batch> out;
  data::Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << "cannot write " << path;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> raw_records(const data::Dataset& d) {
  const auto labels = d.labels.to_vector<int64_t>();
  const auto pixels = d.images.contiguous().to_vector<uint8_t>();
  std::vector<uint8_t> out;
  for (size_t i = 0; i < labels.size(); ++i) {
    out.push_back(static_cast<uint8_t>(labels[i]));
    out.insert(out.end(), pixels.begin() + i * kernels::kImageBytes, pixels.begin() + (i + 1) * kernels::kImageBytes);
  }
  return out;
}

int run_command(const std::string& command, std::string* output) {
  output->clear();
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) output->append(buf, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace ember::testing
