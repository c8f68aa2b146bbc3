// Saved JSON (the run state in a checkpoint), one field at a time. Each saved struct has ONE
// list of (name, member) pairs, a template over the visitor, that serves both directions:
//
//   template <class Io, class Row> void history_fields(Io& io, Row& r) {
//     io("optimizer", r.optimizer);
//     io("repeat", r.repeat);
//     ...
//   }
//
// so writing and reading cannot drift apart. JsonReader checks every value's type and range
// and names the field in one clear ember::Error; nlohmann's own conversions would throw their
// own exceptions or, for a number outside an int's range, cast it: get<int>() of 1e300 is
// undefined behaviour and of 2^40 wraps silently (both found by tests/fuzz/fuzz_run_state.cpp).
// An integer field takes an integer - or a float with an integral value - in its type's range.
// JSON has no NaN or infinity: doubles that are not finite are written as null and read back
// as NaN.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ember::train {

class JsonWriter {
 public:
  explicit JsonWriter(nlohmann::json& object) : out_(object) {}
  void operator()(const char* key, const std::string& value) { out_[key] = value; }
  void operator()(const char* key, bool value) { out_[key] = value; }
  void operator()(const char* key, int value) { out_[key] = value; }
  void operator()(const char* key, int64_t value) { out_[key] = value; }
  void operator()(const char* key, uint64_t value) { out_[key] = value; }
  void operator()(const char* key, double value);
  void operator()(const char* key, const std::vector<std::string>& value) { out_[key] = value; }

 private:
  nlohmann::json& out_;
};

class JsonReader {
 public:
  // `where` names the object in errors ("results[2]"); Error unless `object` is an object.
  JsonReader(const nlohmann::json& object, std::string where);
  void operator()(const char* key, std::string& value) const;
  void operator()(const char* key, bool& value) const;
  void operator()(const char* key, int& value) const;
  void operator()(const char* key, int64_t& value) const;
  void operator()(const char* key, uint64_t& value) const;
  void operator()(const char* key, double& value) const;  // null: NaN
  void operator()(const char* key, std::vector<std::string>& value) const;
  // The member `key` (Error when it is missing), for nested objects and arrays.
  const nlohmann::json& at(const char* key) const;
  std::string where(const char* key) const;  // "results[2].lr"

 private:
  const nlohmann::json& in_;
  std::string where_;
};

// Each element of the array `array` (Error naming `where` unless it is one) read by
// read(element, "where[i]").
template <class T, class Read>
std::vector<T> read_array(const nlohmann::json& array, const std::string& where, Read read);

[[noreturn]] void fail_not_array(const std::string& where);

template <class T, class Read>
std::vector<T> read_array(const nlohmann::json& array, const std::string& where, Read read) {
  if (!array.is_array()) fail_not_array(where);
  std::vector<T> out;
  out.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) out.push_back(read(array[i], where + "[" + std::to_string(i) + "]"));
  return out;
}

}  // namespace ember::train
