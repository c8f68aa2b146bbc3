// ember::Error and the checks that throw it.
//
// Every failure below main() is an exception carrying file:line and a readable message;
// programs catch at main, print one line and exit with a defined code (see apps/).
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace ember {

class Error : public std::runtime_error {
 public:
  Error(const char* file, int line, const std::string& message);
  // The message without the file:line suffix, for one-line reports to users.
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

// A usage error (bad flag, bad spec string): programs exit 2 on it instead of 1.
class UsageError : public Error {
 public:
  using Error::Error;
};

[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

}  // namespace ember

// EMBER_CHECK(cond, "format {}", args...): throws ember::Error when cond is false.
#define EMBER_CHECK(cond, ...)                                                  \
  do {                                                                          \
    if (!(cond)) ::ember::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (0)

#define EMBER_FAIL(...) ::ember::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__))

#define EMBER_USAGE_CHECK(cond, ...)                                            \
  do {                                                                          \
    if (!(cond)) throw ::ember::UsageError(__FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (0)
