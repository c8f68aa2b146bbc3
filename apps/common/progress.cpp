#include "apps/common/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "apps/common/app_main.h"

namespace ember::apps {

ProgressLine::ProgressLine(double plain_interval_seconds, bool quiet)
    : terminal_(isatty(fileno(stdout)) != 0),
      quiet_(quiet),
      interval_(plain_interval_seconds),
      last_(std::chrono::steady_clock::now() - std::chrono::hours(1)) {}

void ProgressLine::update(const std::string& text, bool force) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (terminal_) {
    if (!force && since < 0.1) return;
    std::printf("\r\033[K%s", text.c_str());
    live_ = true;
  } else {
    if (!force && since < interval_) return;
    std::printf("%s\n", text.c_str());
  }
  std::fflush(stdout);
  last_ = now;
}

void ProgressLine::println(const std::string& text) {
  if (live_) std::printf("\r\033[K");
  live_ = false;
  if (!quiet_) std::printf("%s\n", text.c_str());
  std::fflush(stdout);
}

void ProgressLine::warn(const std::string& text) {
  if (live_) std::printf("\r\033[K");
  live_ = false;
  std::fflush(stdout);
  std::fprintf(stderr, "%swarning: %s\n", stderr_prefix().c_str(), text.c_str());
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const long s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace ember::apps
