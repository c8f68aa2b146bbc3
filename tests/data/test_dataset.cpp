// Data set operations (subsets of samples and classes, relabelling, histograms), the --data
// source strings and the small parsers behind them.
#include <gtest/gtest.h>

#include "data/parse.h"
#include "data/source.h"
#include "tests/data/data_test_util.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

using data::Dataset;
using testing::throws_with;
using V = std::vector<int64_t>;

TEST(Dataset, SelectCopiesSamplesInTheGivenOrder) {
  const Dataset d = testing::patterned_dataset(6);
  const Dataset s = data::select(d, {4, 1, 4});
  ASSERT_EQ(s.size(), 3);
  const auto want_labels = d.labels.to_vector<int64_t>();
  EXPECT_EQ(s.labels.to_vector<int64_t>(), (V{want_labels[4], want_labels[1], want_labels[4]}));
  EXPECT_BIT_EQUAL(s.images.select(0, 1), d.images.select(0, 1));
  EXPECT_BIT_EQUAL(s.images.select(0, 2), d.images.select(0, 4));
  EXPECT_EQ(data::select(d, {}).size(), 0);
  EXPECT_TRUE(throws_with<Error>([&] { data::select(d, {0, 6}); }, {"index 6"}));
}

TEST(Dataset, HeadIsAViewOfTheFirstSamples) {
  const Dataset d = testing::patterned_dataset(5);
  const Dataset h = data::head(d, 2);
  EXPECT_EQ(h.size(), 2);
  EXPECT_EQ(h.images.storage(), d.images.storage());
  EXPECT_EQ(data::head(d, 50).size(), 5);
  EXPECT_EQ(data::head(d, -1).size(), 0);
}

TEST(Dataset, ClassSubsetAndRelabelling) {
  const Dataset d = testing::patterned_dataset(30);  // label of i is 7i mod 10
  const V idx = data::indices_of_classes(d, {0, 3});
  for (int64_t i : idx) EXPECT_TRUE((7 * i) % 10 == 0 || (7 * i) % 10 == 3) << i;
  EXPECT_EQ(idx.size(), 6u);  // 3 of each class among 30
  const Dataset sub = data::select(d, idx);
  EXPECT_EQ(data::label_histogram(sub), (V{3, 0, 0, 3, 0, 0, 0, 0, 0, 0}));

  // Relabel 0 -> 1, 3 -> 0: images shared, labels mapped.
  V mapping(10, 9);
  mapping[0] = 1;
  mapping[3] = 0;
  const Dataset m = data::map_labels(sub, mapping);
  EXPECT_EQ(m.images.storage(), sub.images.storage());
  const auto before = sub.labels.to_vector<int64_t>(), after = m.labels.to_vector<int64_t>();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i], before[i] == 0 ? 1 : 0);
  EXPECT_TRUE(throws_with<Error>([&] { data::map_labels(d, {0, 1}); }, {"no entry"}));
  EXPECT_TRUE(throws_with<Error>([&] { data::label_histogram(m, 1); }, {"outside 0-0"}));
}

TEST(Dataset, ClassListParsing) {
  EXPECT_EQ(data::parse_class_list("0-4"), (V{0, 1, 2, 3, 4}));
  EXPECT_EQ(data::parse_class_list("7,2,2-3"), (V{2, 3, 7}));
  EXPECT_EQ(data::parse_class_list("9"), (V{9}));
  for (const char* bad : {"", "10", "4-2", "a", "1,,2", "-1", "1-", " 1", "0-9-1"})
    EXPECT_TRUE(throws_with<UsageError>([&] { data::parse_class_list(bad); }, {"bad class list"})) << bad;
}

TEST(Dataset, CheckRejectsWrongShapes) {
  Dataset d = testing::patterned_dataset(2);
  d.labels = zeros({3}, DType::Int64);
  EXPECT_TRUE(throws_with<Error>([&] { data::check_dataset(d, "mine"); }, {"mine", "labels"}));
  d = testing::patterned_dataset(2);
  d.images = zeros({2, 3, 32, 31}, DType::UInt8);
  EXPECT_TRUE(throws_with<Error>([&] { data::check_dataset(d, "mine"); }, {"[2, 3, 32, 31]"}));
}

TEST(DataSource, SyntheticSpecs) {
  const data::DataSplits s = data::load_data("synthetic:30,7");
  EXPECT_EQ(s.train.size(), 30);
  EXPECT_EQ(s.test.size(), 7);
  EXPECT_NE(s.description.find("synthetic"), std::string::npos);
  EXPECT_NE(s.description.find("30 train, 7 test"), std::string::npos) << s.description;
  // Limits apply to synthetic data too (only that much is generated).
  const data::DataSplits full = data::load_data("synthetic", 12, 0);
  EXPECT_EQ(full.train.size(), 12);
  EXPECT_EQ(full.test.size(), 0);
  // The same images as the larger set's first ones: generation is per image.
  EXPECT_BIT_EQUAL(data::load_data("synthetic:5,0").train.images, data::head(s.train, 5).images);
  EXPECT_EQ(data::load_data("synthetic:0,0").train.size(), 0);
}

TEST(DataSource, BadSpecsAreUsageErrors) {
  for (const char* bad : {"synthetic:", "synthetic:5", "synthetic:5,", "synthetic:-1,2", "synthetic:a,b",
                          "synthetic:1,2,3", "synthetic:1.5,2"})
    EXPECT_TRUE(throws_with<UsageError>([&] { data::load_data(bad); }, {bad, "synthetic:NTRAIN,NTEST"})) << bad;
  EXPECT_TRUE(throws_with<UsageError>([&] { data::load_data(""); }, {"empty data source"}));
}

TEST(Parse, WholeStringNumbers) {
  int64_t i = 0;
  double x = 0;
  EXPECT_TRUE(data::parse_int64("-12", &i));
  EXPECT_EQ(i, -12);
  EXPECT_FALSE(data::parse_int64("12x", &i));
  EXPECT_FALSE(data::parse_int64(" 1", &i));
  EXPECT_FALSE(data::parse_int64("99999999999999999999", &i));
  EXPECT_TRUE(data::parse_double("0.25", &x));
  EXPECT_EQ(x, 0.25);
  EXPECT_FALSE(data::parse_double("nan", &x));
  EXPECT_FALSE(data::parse_double("", &x));
  EXPECT_EQ(data::split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(data::split("", ','), (std::vector<std::string>{""}));
}

}  // namespace
}  // namespace ember
