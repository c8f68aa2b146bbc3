#include "data/cifar10.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "core/error.h"
#include "core/printable.h"
#include "kernels/augment_rule.h"

namespace ember::data {

namespace fs = std::filesystem;

namespace {

constexpr const char* kHowToGet = "run scripts/get-cifar10.sh to download CIFAR-10 into data/, or use --data synthetic";

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_file(const std::string& path, const char* mode) {
  errno = 0;
  File f(std::fopen(path.c_str(), mode));
  EMBER_CHECK(f != nullptr, "{}: cannot open: {}", printable(path), std::strerror(errno));
  return f;
}

// Records in a CIFAR file, after checking that it exists, is a regular file and holds a
// whole number of records.
int64_t count_records(const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  EMBER_CHECK(fs::exists(status),
              "{}: file missing (a CIFAR-10 folder holds data_batch_1..5.bin and test_batch.bin); {}", printable(path),
              kHowToGet);
  EMBER_CHECK(fs::is_regular_file(status), "{}: cannot read: not a regular file", printable(path));
  const uintmax_t bytes = fs::file_size(path, ec);
  EMBER_CHECK(!ec, "{}: cannot read: {}", printable(path), ec.message());
  EMBER_CHECK(bytes % kCifarRecordBytes == 0,
              "{}: {} bytes is not a whole number of {}-byte CIFAR-10 records (truncated, or not a CIFAR-10 binary "
              "file)",
              path, bytes, kCifarRecordBytes);
  return static_cast<int64_t>(bytes / kCifarRecordBytes);
}

// Reads the first n records of `path` into images (n * 3072 bytes) and labels (n).
void read_records(const std::string& path, int64_t n, uint8_t* images, int64_t* labels) {
  File f = open_file(path, "rb");
  constexpr int64_t kChunk = 1024;  // records per read: 3 MB, few syscalls, little extra memory
  std::vector<uint8_t> buf(static_cast<size_t>(std::min(n, kChunk) * kCifarRecordBytes));
  for (int64_t done = 0; done < n;) {
    const int64_t m = std::min(kChunk, n - done);
    errno = 0;
    const size_t want = static_cast<size_t>(m * kCifarRecordBytes);
    const size_t got = std::fread(buf.data(), 1, want, f.get());
    EMBER_CHECK(got == want, "{}: cannot read: {}", printable(path),
                std::ferror(f.get()) ? std::strerror(errno) : "the file ended early (it changed while being read?)");
    for (int64_t r = 0; r < m; ++r) {
      const uint8_t* rec = buf.data() + r * kCifarRecordBytes;
      EMBER_CHECK(rec[0] <= 9, "{}: record {} has label {}, above 9 (not a CIFAR-10 binary file?)", printable(path),
                  done + r, int(rec[0]));
      labels[done + r] = rec[0];
      std::memcpy(images + (done + r) * kernels::kImageBytes, rec + 1, kernels::kImageBytes);
    }
    done += m;
  }
}

// Reads the first `limit` records (all when < 0) across `paths`, concatenated.
Dataset read_files(const std::vector<std::string>& paths, int64_t limit) {
  std::vector<int64_t> take;
  int64_t total = 0;
  for (const std::string& p : paths) {
    const int64_t n = count_records(p);  // validates every file, even those not read
    const int64_t t = limit < 0 ? n : std::min(n, limit - total);
    take.push_back(t);
    total += t;
  }
  Dataset d = empty_dataset(total);
  auto* images = d.images.data<uint8_t>();
  auto* labels = d.labels.data<int64_t>();
  int64_t at = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (take[i] > 0) read_records(paths[i], take[i], images + at * kernels::kImageBytes, labels + at);
    at += take[i];
  }
  return d;
}

void write_all(std::FILE* f, const void* data, size_t n, const std::string& path) {
  errno = 0;
  EMBER_CHECK(std::fwrite(data, 1, n, f) == n, "{}: cannot write: {}", printable(path), std::strerror(errno));
}

std::string join(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

}  // namespace

const std::vector<std::string>& cifar10_train_files() {
  static const std::vector<std::string> files = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                                 "data_batch_4.bin", "data_batch_5.bin"};
  return files;
}

const std::string& cifar10_test_file() {
  static const std::string file = "test_batch.bin";
  return file;
}

Dataset read_cifar_file(const std::string& path, int64_t limit) { return read_files({path}, limit); }

void write_cifar_file(const std::string& path, const Dataset& d) {
  check_dataset(d);
  const Dataset h = to_device(d, Device::cpu());
  const auto* images = h.images.data<uint8_t>();
  const auto* labels = h.labels.data<int64_t>();
  File f = open_file(path, "wb");
  std::vector<uint8_t> rec(kCifarRecordBytes);
  for (int64_t i = 0; i < h.size(); ++i) {
    EMBER_CHECK(labels[i] >= 0 && labels[i] <= 9, "{}: sample {} has label {}, outside 0-9", printable(path), i,
                labels[i]);
    rec[0] = static_cast<uint8_t>(labels[i]);
    std::memcpy(rec.data() + 1, images + i * kernels::kImageBytes, kernels::kImageBytes);
    write_all(f.get(), rec.data(), rec.size(), path);
  }
  errno = 0;
  EMBER_CHECK(std::fflush(f.get()) == 0, "{}: cannot write: {}", printable(path), std::strerror(errno));
}

std::string find_cifar10_dir(const std::string& dir) {
  const std::string first = cifar10_train_files()[0];
  std::error_code ec;
  if (fs::exists(join(dir, first), ec)) return dir;
  const std::string sub = join(dir, "cifar-10-batches-bin");
  if (fs::exists(join(sub, first), ec)) return sub;
  EMBER_FAIL("{}: no CIFAR-10 data there ({} not found in it or in its cifar-10-batches-bin/); {}", printable(dir),
             first, kHowToGet);
}

DataSplits load_cifar10(const std::string& dir, int64_t limit_train, int64_t limit_test) {
  const std::string root = find_cifar10_dir(dir);
  std::vector<std::string> train_paths;
  for (const std::string& f : cifar10_train_files()) train_paths.push_back(join(root, f));
  DataSplits s;
  s.train = read_files(train_paths, limit_train);
  s.test = read_files({join(root, cifar10_test_file())}, limit_test);
  s.description =
      fmt::format("CIFAR-10 from {}: {} train, {} test images", printable(root), s.train.size(), s.test.size());
  return s;
}

void write_cifar10_dir(const std::string& dir, const DataSplits& splits) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  EMBER_CHECK(!ec && fs::is_directory(dir), "{}: cannot create the folder: {}", printable(dir), ec.message());
  const int64_t n = splits.train.size(), files = static_cast<int64_t>(cifar10_train_files().size());
  int64_t at = 0;
  for (int64_t i = 0; i < files; ++i) {
    const int64_t m = n / files + (i < n % files ? 1 : 0);
    const Dataset part = {splits.train.images.slice(0, at, at + m), splits.train.labels.slice(0, at, at + m)};
    write_cifar_file(join(dir, cifar10_train_files()[i]), part);
    at += m;
  }
  write_cifar_file(join(dir, cifar10_test_file()), splits.test);
  const std::string meta = join(dir, "batches.meta.txt");
  File f = open_file(meta, "wb");
  for (const std::string& name : cifar10_class_names()) write_all(f.get(), (name + "\n").data(), name.size() + 1, meta);
}

}  // namespace ember::data
