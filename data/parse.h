// Whole-string number parsing for spec strings (data sources, class lists, normalisation).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ember::data {

// True when all of `text` is one integer (resp. finite number); *out is then set.
bool parse_int64(const std::string& text, int64_t* out);
bool parse_double(const std::string& text, double* out);
// "a,b,c" -> {"a", "b", "c"}; "" -> {""}.
std::vector<std::string> split(const std::string& text, char sep);

}  // namespace ember::data
