#include "core/printable.h"

#include <cstdint>

namespace ember {

namespace {

// Length of the valid UTF-8 sequence at text[i] and its code point, or 0 when the bytes there
// are not one (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
size_t utf8_sequence(std::string_view text, size_t i, uint32_t* code_point) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t lead = byte(i);
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  }
  size_t length;
  uint32_t cp, min;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, cp = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, cp = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return 0;  // a continuation byte or 0xF8-0xFF where a sequence should start
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return length;
}

bool is_control(uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

}  // namespace

std::string printable(std::string_view text, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t end = text.size();
  if (end > max_bytes) {
    end = max_bytes;
    // Cut before a UTF-8 sequence, not inside one (at most 3 continuation bytes back).
    for (int k = 0; k < 3 && end > 0 && (static_cast<uint8_t>(text[end]) & 0xC0) == 0x80; ++k) --end;
  }
  const std::string_view head = text.substr(0, end);
  std::string out;
  out.reserve(end + 32);
  for (size_t i = 0; i < head.size();) {
    uint32_t cp = 0;
    const size_t length = utf8_sequence(head, i, &cp);
    if (length > 0 && !is_control(cp)) {
      out.append(head.substr(i, length));
      i += length;
      continue;
    }
    // One byte at a time: an invalid sequence may hide a valid one after its first byte.
    const size_t bytes = length > 0 ? length : 1;
    for (size_t k = 0; k < bytes; ++k) {
      const auto b = static_cast<uint8_t>(head[i + k]);
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
    }
    i += bytes;
  }
  if (end < text.size()) out += "... (" + std::to_string(text.size()) + " bytes in all)";
  return out;
}

bool is_valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const size_t length = utf8_sequence(text, i, &cp);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

}  // namespace ember
