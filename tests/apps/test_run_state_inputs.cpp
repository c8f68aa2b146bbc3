// ember-train's run state and configuration read back from damaged JSON (a corrupt or
// hand-edited checkpoint): every integer field is range-checked by JsonReader
// (apps/ember-train/json_fields.h), and every input that tests/fuzz/fuzz_run_state.cpp found
// wrong - committed under tests/fuzz/regressions/run_state/ - is now one clear Error naming
// the field.
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "apps/ember-train/json_fields.h"
#include "apps/ember-train/run_state.h"
#include "core/error.h"

namespace ember {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.message();
  }
  return "no error";
}

// The field "n" of {"n": value} read as an Int.
template <class Int>
Int read_integer(const nlohmann::json& value) {
  Int out = 0;
  train::JsonReader(nlohmann::json{{"n", value}}, "saved")("n", out);
  return out;
}

TEST(JsonInteger, AcceptsExactlyTheIntegersOfTheType) {
  using J = nlohmann::json;
  EXPECT_EQ(read_integer<int>(J(2147483647)), 2147483647);
  EXPECT_EQ(read_integer<int>(J(-2147483648LL)), -2147483647 - 1);
  EXPECT_EQ(read_integer<int>(J(3.0)), 3);  // an integral float
  EXPECT_EQ(read_integer<int64_t>(J(-9223372036854775807LL - 1)), INT64_MIN);
  EXPECT_EQ(read_integer<uint64_t>(J(18446744073709551615ULL)), UINT64_MAX);
  EXPECT_EQ(read_integer<int64_t>(J(-9.2233720368547758e18)), INT64_MIN);  // -2^63 as a float
  for (const J& bad : {J(2147483648LL), J(-2147483649LL), J(3.5), J(1e300), J(-1e300), J(2147483648.0), J("3"),
                       J(nullptr), J(true), J::array({1})}) {
    const std::string m = error_of([&] { read_integer<int>(bad); });
    EXPECT_NE(m.find("saved.n holds "), std::string::npos) << bad.dump() << ": " << m;
    EXPECT_NE(m.find("not an integer in -2147483648..2147483647"), std::string::npos) << bad.dump() << ": " << m;
  }
  EXPECT_NE(error_of([] { read_integer<uint64_t>(J(-1)); }).find("holds -1"), std::string::npos);
  EXPECT_NE(error_of([] { read_integer<int64_t>(J(9.2233720368547758e18)); }).find("not an integer"),
            std::string::npos);  // 2^63: one past the end
  EXPECT_NE(error_of([] { read_integer<int64_t>(J(18446744073709551615ULL)); }).find("not an integer"),
            std::string::npos);
}

// The committed inputs (fuzz findings, rewritten into the checkpoint-2 format by
// scripts/gen_fuzz_seeds.py): before the range check the first and the last were undefined
// behaviour (UBSan: "1e+300 is outside the range of representable values of type 'int'"),
// the second silently became run 0.
TEST(RunStateInputs, RegressionInputsAreClearErrors) {
  const struct {
    const char* file;
    const char* error;
  } cases[] = {
      {"epochs_1e300", "config.epochs holds 1e+300, not an integer in -2147483648..2147483647"},
      {"progress_run_2pow32", "progress.run holds 4294967296, not an integer in -2147483648..2147483647"},
      {"history_batch_minus_1p5e19",
       "history[0].batch holds -1.5e+19, not an integer in -9223372036854775808..9223372036854775807"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    std::ifstream in(std::string(EMBER_SOURCE_DIR) + "/tests/fuzz/regressions/run_state/" + c.file);
    ASSERT_TRUE(in.good());
    const nlohmann::json j = nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
    const std::string message = error_of([&] { train::run_state_from_json(j); });
    EXPECT_NE(message.find(c.error), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace ember
