// The optimiser suites' golden data: tests/optim/fixtures/NAME.json, each written by a
// committed generator in scripts/ (gen_optim_fixtures.py, gen_lion_fixtures.py,
// gen_schedulefree_fixtures.py, gen_blockwise8_fixtures.py), parsed once per process.
#pragma once

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tensor.h"

namespace ember::testing {

// tests/optim/fixtures/<name>.json; ember::Error naming the file when it cannot be read.
inline const nlohmann::json& optim_fixture(const std::string& name) {
  static std::map<std::string, nlohmann::json> parsed;  // map: references stay valid
  auto it = parsed.find(name);
  if (it == parsed.end()) {
    const std::string file = "tests/optim/fixtures/" + name + ".json";
    std::ifstream in(EMBER_SOURCE_DIR "/" + file);
    EMBER_CHECK(in.good(), "cannot read {}", file);
    it = parsed.emplace(name, nlohmann::json::parse(in)).first;
  }
  return it->second;
}

// A fixture's list of numbers as a float32 tensor of `shape` (empty: one dimension).
inline Tensor fixture_tensor(const nlohmann::json& values, Shape shape = {}) {
  const std::vector<float> v = values.get<std::vector<float>>();
  if (shape.empty()) shape = {static_cast<int64_t>(v.size())};
  return from_vector(v, shape);
}

}  // namespace ember::testing
