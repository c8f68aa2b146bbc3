// ember-train's run state and configuration read back from damaged JSON (a corrupt or
// hand-edited checkpoint): every integer field is range-checked (json_integer), and every
// input that tests/fuzz/fuzz_run_state.cpp found wrong - committed under
// tests/fuzz/regressions/run_state/ - is now one clear Error.
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "apps/ember-train/json_integer.h"
#include "apps/ember-train/run_state.h"
#include "core/printable.h"

namespace ember {
namespace {

using train::json_integer;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.message();
  }
  return "no error";
}

TEST(JsonInteger, AcceptsExactlyTheIntegersOfTheType) {
  using J = nlohmann::json;
  EXPECT_EQ(json_integer<int>(J(2147483647)), 2147483647);
  EXPECT_EQ(json_integer<int>(J(-2147483648LL)), -2147483647 - 1);
  EXPECT_EQ(json_integer<int>(J(3.0)), 3);  // an integral float
  EXPECT_EQ(json_integer<int64_t>(J(-9223372036854775807LL - 1)), INT64_MIN);
  EXPECT_EQ(json_integer<uint64_t>(J(18446744073709551615ULL)), UINT64_MAX);
  EXPECT_EQ(json_integer<int64_t>(J(-9.2233720368547758e18)), INT64_MIN);  // -2^63 as a float
  for (const J& bad : {J(2147483648LL), J(-2147483649LL), J(3.5), J(1e300), J(-1e300), J(2147483648.0), J("3"),
                       J(nullptr), J(true), J::array({1})}) {
    const std::string m = error_of([&] { json_integer<int>(bad); });
    EXPECT_NE(m.find("not an integer in -2147483648..2147483647"), std::string::npos) << bad.dump() << ": " << m;
  }
  EXPECT_NE(error_of([] { json_integer<uint64_t>(J(-1)); }).find("holds -1"), std::string::npos);
  EXPECT_NE(error_of([] { json_integer<int64_t>(J(9.2233720368547758e18)); }).find("not an integer"),
            std::string::npos);  // 2^63: one past the end
  EXPECT_NE(error_of([] { json_integer<int64_t>(J(18446744073709551615ULL)); }).find("not an integer"),
            std::string::npos);
}

}  // namespace
}  // namespace ember
