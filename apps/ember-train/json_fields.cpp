#include "apps/ember-train/json_fields.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/printable.h"

namespace ember::train {

namespace {

const char* type_of(const nlohmann::json& j) {
  if (j.is_number_integer()) return "an integer";
  if (j.is_number_float()) return "a fractional number";
  return j.type_name();  // "null", "string", "object", ...
}

// The integer in `j` when it is one in Int's range (an integral float too: a hand-edited
// "3.0"); Error naming the field otherwise.
template <class Int>
Int read_integer(const nlohmann::json& j, const std::string& where) {
  using Limits = std::numeric_limits<Int>;
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v <= static_cast<uint64_t>(Limits::max())) return static_cast<Int>(v);
  } else if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (Limits::is_signed ? (v >= static_cast<int64_t>(Limits::min()) && v <= static_cast<int64_t>(Limits::max()))
                          : (v >= 0 && static_cast<uint64_t>(v) <= static_cast<uint64_t>(Limits::max())))
      return static_cast<Int>(v);
  } else if (j.is_number_float()) {
    const double v = j.get<double>();
    // [min, max + 1): both ends are powers of two (or 0), exact as doubles.
    const double end = 2.0 * static_cast<double>(Limits::max() / 2 + 1);
    if (v == std::floor(v) && v >= static_cast<double>(Limits::min()) && v < end) return static_cast<Int>(v);
  }
  EMBER_FAIL("{} holds {}, not an integer in {}..{} (a corrupt or hand-edited file?)", where,
             j.is_primitive() ? printable(j.dump()) : type_of(j), Limits::min(), Limits::max());
}

}  // namespace

void JsonWriter::operator()(const char* key, double value) {
  out_[key] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

JsonReader::JsonReader(const nlohmann::json& object, std::string where) : in_(object), where_(std::move(where)) {
  EMBER_CHECK(in_.is_object(), "{}: expected an object, got {}", where_, type_of(in_));
}

std::string JsonReader::where(const char* key) const { return where_.empty() ? key : where_ + "." + key; }

const nlohmann::json& JsonReader::at(const char* key) const {
  auto it = in_.find(key);
  EMBER_CHECK(it != in_.end(), "{}: missing", where(key));
  return *it;
}

void JsonReader::operator()(const char* key, std::string& value) const {
  const nlohmann::json& j = at(key);
  EMBER_CHECK(j.is_string(), "{}: expected a string, got {}", where(key), type_of(j));
  value = j.get<std::string>();
}

void JsonReader::operator()(const char* key, bool& value) const {
  const nlohmann::json& j = at(key);
  EMBER_CHECK(j.is_boolean(), "{}: expected true or false, got {}", where(key), type_of(j));
  value = j.get<bool>();
}

void JsonReader::operator()(const char* key, int& value) const { value = read_integer<int>(at(key), where(key)); }

void JsonReader::operator()(const char* key, int64_t& value) const {
  value = read_integer<int64_t>(at(key), where(key));
}

void JsonReader::operator()(const char* key, uint64_t& value) const {
  value = read_integer<uint64_t>(at(key), where(key));
}

void JsonReader::operator()(const char* key, double& value) const {
  const nlohmann::json& j = at(key);
  EMBER_CHECK(j.is_number() || j.is_null(), "{}: expected a number or null, got {}", where(key), type_of(j));
  value = j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
}

void JsonReader::operator()(const char* key, std::vector<std::string>& value) const {
  value = read_array<std::string>(at(key), where(key), [](const nlohmann::json& j, const std::string& w) {
    EMBER_CHECK(j.is_string(), "{}: expected a string, got {}", w, type_of(j));
    return j.get<std::string>();
  });
}

void fail_not_array(const std::string& where) { EMBER_FAIL("{}: expected an array", where); }

}  // namespace ember::train
