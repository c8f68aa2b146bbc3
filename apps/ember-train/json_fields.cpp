#include "apps/ember-train/json_fields.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace ember::train {

namespace {

const char* type_of(const nlohmann::json& j) {
  if (j.is_number_integer()) return "an integer";
  if (j.is_number_float()) return "a fractional number";
  return j.type_name();  // "null", "string", "object", ...
}

// The integer in `j` when it is one within [lo, hi]; Error naming the field otherwise.
template <class Int>
Int read_integer(const nlohmann::json& j, const std::string& where) {
  constexpr auto lo = std::numeric_limits<Int>::min();
  constexpr auto hi = std::numeric_limits<Int>::max();
  bool ok = false;
  if (j.is_number_unsigned()) ok = j.get<uint64_t>() <= static_cast<uint64_t>(hi);
  else if (j.is_number_integer()) ok = std::is_signed<Int>::value && j.get<int64_t>() >= static_cast<int64_t>(lo) &&
                                       j.get<int64_t>() <= static_cast<int64_t>(hi);
  EMBER_CHECK(ok, "{}: expected an integer from {} to {}, got {}", where, lo, hi,
              j.is_number() ? printable(j.dump()) : type_of(j));
  return j.is_number_unsigned() ? static_cast<Int>(j.get<uint64_t>()) : static_cast<Int>(j.get<int64_t>());
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

std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) out += c;
    else out += fmt::format("\\x{:02x}", byte);
  }
  return out;
}

}  // namespace ember::train
