// The CIFAR-10 binary reader and writer: exact bytes in and out, subsets, every error case
// (one line naming the file, no crash), and the real mini subset.
#include <gtest/gtest.h>

#include <filesystem>

#include "data/cifar10.h"
#include "data/source.h"
#include "tests/data/data_test_util.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

namespace fs = std::filesystem;
using data::Dataset;
using testing::TempDir;
using testing::throws_with;

// Writes a CIFAR folder by hand: train files with the given record counts, test with `test`.
// Sample i of the concatenated train set is patterned_dataset(total)[i].
Dataset write_folder(const std::string& dir, const std::vector<int64_t>& train_counts, int64_t test,
                     Dataset* test_set = nullptr) {
  int64_t total = 0;
  for (int64_t c : train_counts) total += c;
  Dataset train = testing::patterned_dataset(total);
  int64_t at = 0;
  for (size_t f = 0; f < train_counts.size(); ++f) {
    const int64_t end = at + train_counts[f];
    const Dataset part = {train.images.slice(0, at, end), train.labels.slice(0, at, end)};
    testing::write_bytes(dir + "/" + data::cifar10_train_files()[f], testing::raw_records(part));
    at = end;
  }
  Dataset t = testing::patterned_dataset(test, /*salt=*/5);
  testing::write_bytes(dir + "/" + data::cifar10_test_file(), testing::raw_records(t));
  if (test_set) *test_set = t;
  return train;
}

TEST(Cifar10Reader, ExactBytesBecomeExactTensors) {
  TempDir tmp;
  const Dataset want = testing::patterned_dataset(7);
  testing::write_bytes(tmp.file("a.bin"), testing::raw_records(want));
  const Dataset got = data::read_cifar_file(tmp.file("a.bin"));
  EXPECT_EQ(got.images.sizes(), Shape({7, 3, 32, 32}));
  EXPECT_EQ(got.images.dtype(), DType::UInt8);
  EXPECT_EQ(got.labels.dtype(), DType::Int64);
  EXPECT_EQ(got.device(), Device::cpu());
  EXPECT_BIT_EQUAL(got.images, want.images);
  EXPECT_BIT_EQUAL(got.labels, want.labels);
  // The layout is CHW as stored: byte 1 + c*1024 + y*32 + x of record i is images[i][c][y][x].
  const auto raw = testing::read_bytes(tmp.file("a.bin"));
  const auto px = got.images.to_vector<uint8_t>();
  const int64_t i = 4, c = 2, y = 17, x = 30;
  EXPECT_EQ(px[((i * 3 + c) * 32 + y) * 32 + x], raw[i * 3073 + 1 + c * 1024 + y * 32 + x]);
  EXPECT_EQ(got.labels.to_vector<int64_t>()[i], raw[i * 3073]);
}

TEST(Cifar10Reader, FirstNRecords) {
  TempDir tmp;
  const Dataset want = testing::patterned_dataset(9);
  testing::write_bytes(tmp.file("a.bin"), testing::raw_records(want));
  EXPECT_BIT_EQUAL(data::read_cifar_file(tmp.file("a.bin"), 4).images, data::head(want, 4).images);
  EXPECT_EQ(data::read_cifar_file(tmp.file("a.bin"), 0).size(), 0);
  EXPECT_EQ(data::read_cifar_file(tmp.file("a.bin"), 100).size(), 9);
}

TEST(Cifar10Reader, WriterWritesTheOfficialLayout) {
  TempDir tmp;
  const Dataset d = testing::patterned_dataset(5);
  data::write_cifar_file(tmp.file("w.bin"), d);
  EXPECT_EQ(testing::read_bytes(tmp.file("w.bin")), testing::raw_records(d));
  data::write_cifar_file(tmp.file("empty.bin"), data::empty_dataset(0));
  EXPECT_EQ(fs::file_size(tmp.file("empty.bin")), 0u);
  EXPECT_EQ(data::read_cifar_file(tmp.file("empty.bin")).size(), 0);
}

TEST(Cifar10Reader, FolderConcatenatesTheTrainFilesInOrder) {
  TempDir tmp;
  Dataset test;
  const Dataset train = write_folder(tmp.path(), {4, 3, 2, 1, 5}, 6, &test);
  const data::DataSplits s = data::load_cifar10(tmp.path());
  EXPECT_BIT_EQUAL(s.train.images, train.images);
  EXPECT_BIT_EQUAL(s.train.labels, train.labels);
  EXPECT_BIT_EQUAL(s.test.images, test.images);
  EXPECT_BIT_EQUAL(s.test.labels, test.labels);
  EXPECT_NE(s.description.find("15 train, 6 test"), std::string::npos) << s.description;

  // Limits cut across files: 8 = 4 + 3 + 1 of the third file.
  const data::DataSplits l = data::load_cifar10(tmp.path(), 8, 2);
  EXPECT_BIT_EQUAL(l.train.images, data::head(train, 8).images);
  EXPECT_BIT_EQUAL(l.test.labels, data::head(test, 2).labels);
}

TEST(Cifar10Reader, AcceptsTheBatchesSubfolder) {
  TempDir tmp;
  fs::create_directories(tmp.file("cifar-10-batches-bin"));
  const Dataset train = write_folder(tmp.file("cifar-10-batches-bin"), {1, 1, 1, 1, 2}, 1);
  EXPECT_EQ(data::find_cifar10_dir(tmp.path()), tmp.file("cifar-10-batches-bin"));
  const data::DataSplits s = data::load_cifar10(tmp.path());
  EXPECT_BIT_EQUAL(s.train.images, train.images);
  // The same through the --data entry point.
  EXPECT_BIT_EQUAL(data::load_data(tmp.path()).train.labels, train.labels);
}

TEST(Cifar10Reader, MissingFolderSaysHowToGetData) {
  TempDir tmp;
  const std::string dir = tmp.file("nowhere");
  EXPECT_TRUE(throws_with<Error>([&] { data::load_cifar10(dir); }, {dir, "get-cifar10.sh", "synthetic"}));
  EXPECT_TRUE(throws_with<Error>([&] { data::load_data(dir); }, {dir, "get-cifar10.sh", "synthetic"}));
}

TEST(Cifar10Reader, MissingFileIsNamed) {
  TempDir tmp;
  write_folder(tmp.path(), {1, 1, 1, 1, 1}, 1);
  fs::remove(tmp.file("test_batch.bin"));
  EXPECT_TRUE(throws_with<Error>([&] { data::load_cifar10(tmp.path()); },
                                 {tmp.file("test_batch.bin"), "missing", "get-cifar10.sh", "synthetic"}));
  write_folder(tmp.path(), {1, 1, 1, 1, 1}, 1);
  fs::remove(tmp.file("data_batch_4.bin"));
  // Even when a limit means the file would not be read.
  EXPECT_TRUE(throws_with<Error>([&] { data::load_cifar10(tmp.path(), 1, 1); }, {tmp.file("data_batch_4.bin")}));
}

TEST(Cifar10Reader, TruncatedFileIsAnErrorNotACrash) {
  TempDir tmp;
  write_folder(tmp.path(), {2, 2, 2, 2, 2}, 2);
  auto bytes = testing::read_bytes(tmp.file("data_batch_2.bin"));
  for (size_t keep : {bytes.size() - 1, size_t{3073 + 100}, size_t{1}}) {
    testing::write_bytes(tmp.file("data_batch_2.bin"), std::vector<uint8_t>(bytes.begin(), bytes.begin() + keep));
    EXPECT_TRUE(throws_with<Error>([&] { data::load_cifar10(tmp.path()); },
                                   {tmp.file("data_batch_2.bin"), std::to_string(keep) + " bytes", "3073"}));
  }
}

TEST(Cifar10Reader, LabelAboveNineNamesTheRecord) {
  TempDir tmp;
  auto bytes = testing::raw_records(testing::patterned_dataset(4));
  bytes[2 * 3073] = 10;
  testing::write_bytes(tmp.file("bad.bin"), bytes);
  EXPECT_TRUE(throws_with<Error>([&] { data::read_cifar_file(tmp.file("bad.bin")); },
                                 {tmp.file("bad.bin"), "record 2", "label 10"}));
  // Records before it still load when only they are asked for.
  EXPECT_EQ(data::read_cifar_file(tmp.file("bad.bin"), 2).size(), 2);
}

TEST(Cifar10Reader, MessagesQuoteAPathThatIsNotUtf8AsOneValidLine) {
  TempDir tmp;
  auto bytes = testing::raw_records(testing::patterned_dataset(2));
  bytes[3073] = 200;
  const std::string name = "bad\xff\nname.bin";  // a byte that is not UTF-8 and a newline
  testing::write_bytes(tmp.file(name), bytes);
  EXPECT_TRUE(throws_with<Error>([&] { data::read_cifar_file(tmp.file(name)); },
                                 {"bad\\xff\\x0aname.bin", "record 1", "label 200"}));
  EXPECT_TRUE(throws_with<UsageError>([&] { data::load_data("synthetic:\xc3\x28,1"); }, {"synthetic:\\xc3(,1"}));
}

TEST(Cifar10Reader, UnreadableFileIsAnError) {
  TempDir tmp;
  write_folder(tmp.path(), {1, 1, 1, 1, 1}, 1);
  fs::remove(tmp.file("data_batch_3.bin"));
  fs::create_directories(tmp.file("data_batch_3.bin"));  // a folder where the file should be
  EXPECT_TRUE(
      throws_with<Error>([&] { data::load_cifar10(tmp.path()); }, {tmp.file("data_batch_3.bin"), "cannot read"}));
}

TEST(Cifar10Writer, FolderRoundTripAndErrors) {
  TempDir tmp;
  const data::DataSplits s = {testing::patterned_dataset(12), testing::patterned_dataset(3, 1), ""};
  data::write_cifar10_dir(tmp.file("out"), s);
  // 12 train images over 5 files: 3, 3, 2, 2, 2.
  EXPECT_EQ(fs::file_size(tmp.file("out/data_batch_1.bin")), 3u * 3073);
  EXPECT_EQ(fs::file_size(tmp.file("out/data_batch_5.bin")), 2u * 3073);
  EXPECT_TRUE(fs::exists(tmp.file("out/batches.meta.txt")));
  const data::DataSplits r = data::load_cifar10(tmp.file("out"));
  EXPECT_BIT_EQUAL(r.train.images, s.train.images);
  EXPECT_BIT_EQUAL(r.test.labels, s.test.labels);

  Dataset bad = testing::patterned_dataset(2);
  bad.labels = from_vector<int64_t>({3, 11}, {2});
  EXPECT_TRUE(throws_with<Error>([&] { data::write_cifar_file(tmp.file("bad.bin"), bad); }, {"label 11"}));
  testing::write_bytes(tmp.file("plain"), {1});
  EXPECT_TRUE(throws_with<Error>([&] { data::write_cifar10_dir(tmp.file("plain/sub"), s); }, {tmp.file("plain/sub")}));
}

// The real slice of CIFAR-10 (../shared/data/cifar10-mini, or EMBER_CIFAR10_MINI).
TEST(Cifar10Mini, LoadsWithTheExpectedCountsAndHistogram) {
  const std::string dir = testing::cifar10_mini_dir();
  if (dir.empty())
    GTEST_SKIP() << "the CIFAR-10 mini subset is not here: set EMBER_CIFAR10_MINI to its folder "
                    "(../shared/data/cifar10-mini next to the repository)";
  const data::DataSplits s = data::load_cifar10(dir);
  EXPECT_EQ(s.train.size(), 4660);
  EXPECT_EQ(s.test.size(), 932);
  // Counted from the files by scripts/count_cifar10_mini.py (python3, record by record,
  // independent of ember's reader), which prints every number below.
  EXPECT_EQ(data::label_histogram(s.train), (std::vector<int64_t>{479, 479, 444, 448, 489, 435, 464, 477, 481, 464}));
  EXPECT_EQ(data::label_histogram(s.test), (std::vector<int64_t>{97, 78, 94, 95, 85, 84, 105, 96, 98, 100}));
  // The first record of data_batch_1.bin: label 6 (frog), pixels 59, 43, 50, 68, ... summing to 317790.
  EXPECT_EQ(s.train.labels.to_vector<int64_t>()[0], 6);
  const auto px = data::head(s.train, 1).images.to_vector<uint8_t>();
  EXPECT_EQ(std::vector<uint8_t>(px.begin(), px.begin() + 4), (std::vector<uint8_t>{59, 43, 50, 68}));
  int64_t sum = 0;
  for (uint8_t v : px) sum += v;
  EXPECT_EQ(sum, 317790);
  // Record 932 of the train set is the first record of data_batch_2.bin.
  const auto raw = testing::read_bytes(dir + "/data_batch_2.bin");
  EXPECT_EQ(s.train.labels.to_vector<int64_t>()[932], raw[0]);
}

}  // namespace
}  // namespace ember
