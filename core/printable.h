// printable(): text from a file or a user, made safe to quote in a one-line error message.
//
// Error messages quote what they read (a tensor name, a JSON parser's "last read" bytes, a
// spec string, a path). Those bytes can be anything; a message must stay valid UTF-8 on one
// line (terminals, logs, JSON reports and tests read it). printable() keeps every valid UTF-8
// sequence of a printable character as it is and writes every other byte as \xNN: invalid or
// overlong UTF-8, surrogates, code points above U+10FFFF, control characters (C0 including
// newline and tab, DEL, C1). A backslash stays as it is: printable text passes unchanged.
// Text longer than `max_bytes` (a corrupt file can hold a 100 MB "name") keeps its first
// max_bytes bytes, then says "... (N bytes in all)".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ember {

constexpr size_t kPrintableMaxBytes = 1024;

std::string printable(std::string_view text, size_t max_bytes = kPrintableMaxBytes);

// True when `text` is valid UTF-8 (any code points, controls included).
bool is_valid_utf8(std::string_view text);

}  // namespace ember
