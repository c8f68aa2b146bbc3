// Base64 (RFC 4648, with padding) and data URIs: how report.html carries its figures inside
// itself.
#pragma once

#include <string>

namespace ember::compare {

std::string base64_encode(const std::string& bytes);
// "data:image/png;base64,..." (or image/svg+xml for .svg) of the file at `path`; "" when it
// cannot be read or is empty.
std::string file_data_uri(const std::string& path);

}  // namespace ember::compare
