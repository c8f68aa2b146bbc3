// Safetensors I/O: exact byte layout, round trips of every dtype (bit-exact), a file written
// by the Python safetensors library (committed fixture), atomic writes, and every kind of
// damage - each a clear Error naming the file, never a crash (the truncation test cuts a
// file at every length).
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/ops.h"
#include "core/printable.h"
#include "nn/checkpoint.h"
#include "nn/resnet.h"
#include "nn/safetensors.h"
#include "tests/nn/nn_test_util.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

namespace fs = std::filesystem;

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ember_safetensors_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::string read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void write(const std::string& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary);
    out << bytes;
  }
  // A file with header `json` and `data` bytes.
  void write_raw(const std::string& p, const std::string& json, const std::string& data) {
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((json.size() >> (8 * i)) & 0xFF);
    write(p, bytes + json + data);
  }
  // The error message of loading `p` ("no error" if it loads).
  static std::string load_error(const std::string& p) {
    try {
      nn::load_safetensors(p);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  }

  fs::path dir_;
};

TEST_F(Safetensors, ExactByteLayout) {
  const std::string p = path("layout.safetensors");
  nn::save_safetensors(p, {{"a", from_vector<float>({1.5f, -2.0f}, {2})}, {"b", from_vector<uint8_t>({7}, {1, 1})}},
                       {{"k", "v"}});
  const std::string bytes = read(p);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ((8 + n) % 8, 0u) << "data must start 8-byte aligned";
  EXPECT_EQ(nlohmann::json::parse(header),
            nlohmann::json::parse(R"({"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                                      "b":{"dtype":"U8","shape":[1,1],"data_offsets":[8,9]}})"));
  ASSERT_EQ(bytes.size(), 8 + n + 9);
  float a[2];
  std::memcpy(a, bytes.data() + 8 + n, 8);
  EXPECT_EQ(a[0], 1.5f);
  EXPECT_EQ(a[1], -2.0f);
  EXPECT_EQ(static_cast<unsigned char>(bytes.back()), 7);
}

TEST_F(Safetensors, RoundTripEveryDTypeBitExact) {
  const std::string p = path("all.safetensors");
  std::vector<std::pair<std::string, Tensor>> tensors = {
      {"f32", testing::uniform_tensor({3, 4, 5}, 1)},
      {"f64", testing::uniform_tensor({7}, 2, -1e300, 1e300, DType::Float64)},
      {"i64", from_vector<int64_t>({INT64_MIN, -1, 0, INT64_MAX}, {2, 2})},
      {"i32", from_vector<int32_t>({INT32_MIN, 5, INT32_MAX}, {3})},
      {"u8", from_vector<uint8_t>({0, 1, 254, 255}, {4})},
      {"bf16", testing::uniform_tensor({5, 3}, 4).to(DType::BFloat16)},  // "BF16", as torch writes it
      {"scalar", scalar_tensor(3.25)},
      {"empty", zeros({0, 3})},
      {"strided", testing::uniform_tensor({4, 6}, 3).t()},  // written row-major from a view
  };
  tensors[0].second.set_requires_grad(true);
  nn::save_safetensors(p, tensors, {{"epoch", "12"}, {"note", "ünïcode ✓"}});
  const nn::SafetensorsContents back = nn::load_safetensors(p);
  ASSERT_EQ(back.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(back.tensors[i].first, tensors[i].first);  // written in order, read in offset order
    EXPECT_TRUE(testing::bit_equal(back.tensors[i].second, tensors[i].second.contiguous())) << tensors[i].first;
  }
  EXPECT_EQ(back.metadata.at("epoch"), "12");
  EXPECT_EQ(back.metadata.at("note"), "ünïcode ✓");
  ASSERT_NE(back.find("u8"), nullptr);
  EXPECT_EQ(back.find("missing"), nullptr);
  // No temporary file left behind.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) files += entry.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST_F(Safetensors, ReadsAFileWrittenByThePythonLibrary) {
  const std::string file = std::string(EMBER_SOURCE_DIR) + "/tests/nn/data/torch_small.safetensors";
  std::ifstream fixture_in(std::string(EMBER_SOURCE_DIR) + "/tests/nn/data/resnet18_torchvision.json");
  const nlohmann::json want = nlohmann::json::parse(fixture_in)["torch_small_safetensors"];
  const nn::SafetensorsContents got = nn::load_safetensors(file);
  EXPECT_EQ(got.metadata.at("written_by"), "safetensors.torch");
  ASSERT_EQ(got.tensors.size(), want.size());
  for (const auto& [name, w] : want.items()) {
    SCOPED_TRACE(name);
    const Tensor* t = got.find(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->sizes(), w["shape"].get<Shape>());
    const std::string dtype = w["dtype"];
    const DType expected = dtype == "float32" ? DType::Float32 : dtype == "float64" ? DType::Float64
                           : dtype == "int64" ? DType::Int64 : dtype == "int32" ? DType::Int32 : DType::UInt8;
    EXPECT_EQ(t->dtype(), expected);
    if (expected == DType::Int64) {
      EXPECT_EQ(t->to_vector<int64_t>(), w["values"].get<std::vector<int64_t>>());
    } else {
      EXPECT_EQ(t->to_vector<double>(), w["values"].get<std::vector<double>>());
    }
  }
}

TEST_F(Safetensors, TruncatedAtEveryLengthIsAnError) {
  const std::string p = path("whole.safetensors"), cut = path("cut.safetensors");
  nn::save_safetensors(p, {{"x", testing::uniform_tensor({5}, 4)}, {"n", from_vector<int64_t>({1, 2}, {2})}});
  const std::string bytes = read(p);
  for (size_t len = 0; len < bytes.size(); ++len) {
    write(cut, bytes.substr(0, len));
    const std::string error = load_error(cut);
    EXPECT_NE(error.find(cut), std::string::npos) << "length " << len << ": " << error;
  }
  write(cut, bytes + "junk");
  EXPECT_NE(load_error(cut).find("bytes after the last tensor"), std::string::npos);
}

TEST_F(Safetensors, CorruptHeadersAreClearErrors) {
  const std::string p = path("bad.safetensors");
  auto error_for = [&](const std::string& json, const std::string& data) {
    write_raw(p, json, data);
    return load_error(p);
  };
  const std::string eight(8, '\1');
  EXPECT_NE(error_for("{not json", "").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_for("[1, 2]", "").find("not a JSON object"), std::string::npos);
  EXPECT_NE(error_for(R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", eight).find("unsupported dtype"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight).find("need 12 bytes"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight).find("non-negative"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,0]}})", eight).find("end before"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"a":{"dtype":"F32","shape":[2]}})", eight).find("data_offsets"), std::string::npos);
  EXPECT_NE(error_for(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
                          "b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight).find("overlap"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight).find("unused bytes"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight).find("truncated"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},
                          "a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})", eight).find("names 'a' twice"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"__metadata__":{"k":3}})", "").find("not a string"), std::string::npos);
  EXPECT_NE(error_for(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", eight)
                .find("too large"),
            std::string::npos);
  // A header length beyond the file or absurdly large.
  write(p, std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}");
  EXPECT_NE(load_error(p).find("header length"), std::string::npos);
  write(p, std::string("\x40\x00\x00\x00\x00\x00\x00\x00", 8) + "{}");
  EXPECT_NE(load_error(p).find("truncated"), std::string::npos);
  EXPECT_NE(load_error(path("does-not-exist")).find("cannot open"), std::string::npos);
}

TEST_F(Safetensors, ErrorsQuoteTheFileAsOneLineOfValidUtf8) {
  // The JSON parser's message quotes the bytes it read last: here an invalid UTF-8 byte.
  const std::string p = path("bytes.safetensors");
  write_raw(p, "{\"a\xff\xfe\":1}", "");
  std::string message = load_error(p);
  EXPECT_TRUE(is_valid_utf8(message)) << printable(message);
  EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
  EXPECT_NE(message.find("\\xff"), std::string::npos) << message;
  // A name with an escaped newline and a control character (valid JSON): one line.
  write_raw(p, R"({"a\nb\u0007":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", "xx");
  message = load_error(p);
  EXPECT_EQ(message.find('\n'), std::string::npos) << printable(message);
  EXPECT_NE(message.find("tensor 'a\\x0ab\\x07'"), std::string::npos) << message;
  // A name of 100,000 characters is quoted in part.
  write_raw(p, "{\"" + std::string(100000, 'n') + R"(":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", "xx");
  message = load_error(p);
  EXPECT_LT(message.size(), 2000u);
  EXPECT_NE(message.find("(100000 bytes in all)"), std::string::npos);
  // A path that is not UTF-8.
  EXPECT_TRUE(is_valid_utf8(load_error(path("missing-\xc3\x28"))));
}

TEST_F(Safetensors, WriteErrorsNameTheFileAndLeaveNothingBehind) {
  auto save_error = [](const std::string& p, const std::vector<std::pair<std::string, Tensor>>& t) {
    try {
      nn::save_safetensors(p, t);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string in_missing_dir = path("no/such/dir/x.safetensors");
  EXPECT_NE(save_error(in_missing_dir, {{"a", zeros({1})}}).find(in_missing_dir), std::string::npos);
  EXPECT_NE(save_error(path("dup"), {{"a", zeros({1})}, {"a", zeros({1})}}).find("given twice"), std::string::npos);
  EXPECT_NE(save_error(path("meta"), {{"__metadata__", zeros({1})}}).find("invalid tensor name"), std::string::npos);
  // An existing file is replaced whole, never half-written.
  const std::string p = path("keep.safetensors");
  nn::save_safetensors(p, {{"a", ones({3})}});
  EXPECT_THROW(nn::save_safetensors(p, {{"a", zeros({1})}, {"a", zeros({1})}}), Error);
  EXPECT_TRUE(testing::bit_equal(nn::load_safetensors(p).tensors[0].second, ones({3})));
}

TEST_F(Safetensors, ModelCheckpointRoundTripAndMismatches) {
  Generator gen(5);
  nn::ResNet18 model(10, nn::Stem::Cifar, &gen);
  model(testing::uniform_tensor({2, 3, 32, 32}, 6));  // running statistics and counters move
  const std::string p = path("model.safetensors");
  nn::save_checkpoint(p, model, {{"arch", "resnet18-cifar"}});

  Generator other_gen(99);
  nn::ResNet18 loaded(10, nn::Stem::Cifar, &other_gen);
  EXPECT_EQ(nn::load_checkpoint(p, loaded).at("arch"), "resnet18-cifar");
  const auto a = model.state_dict(), b = loaded.state_dict();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(testing::bit_equal(b[i].second, a[i].second)) << a[i].first;

  // The CIFAR checkpoint into the ImageNet-stem model: conv1.weight's shape, named.
  nn::ResNet18 imagenet(10, nn::Stem::ImageNet);
  const std::string shape_error = [&] {
    try {
      nn::load_checkpoint(p, imagenet);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  }();
  EXPECT_NE(shape_error.find(p), std::string::npos);
  EXPECT_NE(shape_error.find("'conv1.weight' has shape [64, 3, 3, 3], the model needs [64, 3, 7, 7]"),
            std::string::npos)
      << shape_error;
  // A missing key: drop one tensor from the file.
  auto state = nn::load_safetensors(p).tensors;
  state.erase(state.begin() + 3);
  nn::save_safetensors(p, state);
  EXPECT_THROW(nn::load_checkpoint(p, loaded), Error);
  // Another class count: fc's shapes.
  nn::ResNet18 hundred(100, nn::Stem::Cifar);
  nn::save_checkpoint(p, hundred);
  EXPECT_THROW(nn::load_checkpoint(p, loaded), Error);
}

}  // namespace
}  // namespace ember
