// printable(): bytes from files and users made safe for one-line error messages (valid UTF-8,
// no control characters, bounded length), and is_valid_utf8.
#include <cstdint>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "core/printable.h"

namespace ember {
namespace {

// \xNN -> the byte NN.
std::string unescape(const std::string& p) {
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\' && i + 3 < p.size() && p[i + 1] == 'x') {
      out += static_cast<char>(std::stoi(p.substr(i + 2, 2), nullptr, 16));
      i += 3;
    } else {
      out += p[i];
    }
  }
  return out;
}

TEST(Printable, KeepsPrintableUtf8AsItIs) {
  for (const std::string s : {"", "conv1.weight", "C:\\dir\\file", "caf\xc3\xa9", "\xe4\xb8\xad\xe6\x96\x87",
                              "\xf0\x9f\x94\xa5 ember", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_EQ(printable(s), s);
    EXPECT_TRUE(is_valid_utf8(s));
  }
}

TEST(Printable, EscapesControlsAndInvalidBytes) {
  const struct {
    std::string in, out;
    bool valid_utf8;
  } cases[] = {
      {std::string("a\0b", 3), "a\\x00b", true},
      {"line\nbreak\ttab\r", "line\\x0abreak\\x09tab\\x0d", true},
      {"del\x7f", "del\\x7f", true},
      {"c1 \xc2\x85 next line", "c1 \\xc2\\x85 next line", true},  // U+0085: valid but a control
      {"\xff\xfe", "\\xff\\xfe", false},
      {"lone \x80 continuation", "lone \\x80 continuation", false},
      {"cut \xe4\xb8", "cut \\xe4\\xb8", false},             // truncated sequence at the end
      {"\xe4\xb8" "a", "\\xe4\\xb8a", false},                  // truncated sequence inside
      {"\xc0\x80", "\\xc0\\x80", false},                       // overlong NUL
      {"\xe0\x80\xaf", "\\xe0\\x80\\xaf", false},              // overlong '/'
      {"\xed\xa0\x80", "\\xed\\xa0\\x80", false},              // UTF-16 surrogate U+D800
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80", false},     // above U+10FFFF
      {"\xf8\x88\x80\x80\x80", "\\xf8\\x88\\x80\\x80\\x80", false},
      {"\xc3" "\xc3\xa9", "\\xc3\xc3\xa9", false},             // a valid sequence after a bad lead byte
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.out);
    EXPECT_EQ(printable(c.in), c.out);
    EXPECT_EQ(is_valid_utf8(c.in), c.valid_utf8);
    EXPECT_TRUE(is_valid_utf8(printable(c.in)));
    EXPECT_EQ(printable(printable(c.in)), printable(c.in));
  }
}

TEST(Printable, BoundsTheLengthWithoutCuttingACharacter) {
  EXPECT_EQ(printable(std::string(10, 'a'), 4), "aaaa... (10 bytes in all)");
  EXPECT_EQ(printable("abcd", 4), "abcd");
  // "ab" then a 3-byte character across the limit: the cut goes before it.
  EXPECT_EQ(printable("ab\xe4\xb8\xad" "cd", 4), "ab... (7 bytes in all)");
  const std::string huge(100'000'000, 'x');
  EXPECT_EQ(printable(huge).size(), kPrintableMaxBytes + std::string("... (100000000 bytes in all)").size());
}

TEST(Printable, RandomBytesAlwaysComeOutValidAndWithoutControls) {
  std::mt19937 rng(15);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string s(rng() % 40, '\0');
    // Bias towards the bytes UTF-8 is made of, so that valid sequences occur too.
    for (char& c : s) c = static_cast<char>(rng() % 3 == 0 ? 0x80 | (rng() % 0x40) : rng() % 256);
    const std::string p = printable(s);
    ASSERT_TRUE(is_valid_utf8(p)) << p;
    for (unsigned char c : p) ASSERT_TRUE(c >= 0x20 && c != 0x7f) << p;
    // Nothing is lost: without a backslash in the input, undoing the \xNN escapes gives it back.
    if (s.find('\\') == std::string::npos) {
      ASSERT_EQ(unescape(p), s) << p;
    }
  }
}

}  // namespace
}  // namespace ember
