// Progress output for long work: on a terminal one live line redrawn in place (at most ~10
// times a second); when stdout is a file or pipe, a plain line at most every `interval`
// seconds, so logs stay readable.
#pragma once

#include <chrono>
#include <string>

namespace ember::apps {

class ProgressLine {
 public:
  explicit ProgressLine(double plain_interval_seconds = 10.0, bool quiet = false);
  // Shows `text` (a live update); `force` prints it now even when rate-limited.
  void update(const std::string& text, bool force = false);
  // Ends the live line (if any) and prints `text` as a permanent line.
  void println(const std::string& text);
  // Ends the live line (if any) and prints "warning: <text>" on stderr, also when quiet.
  void warn(const std::string& text);
  bool is_terminal() const { return terminal_; }

 private:
  bool terminal_;
  bool quiet_;
  bool live_ = false;  // a live line is on screen
  double interval_;
  std::chrono::steady_clock::time_point last_;
};

// "1h02m", "3m05s", "12s"
std::string format_duration(double seconds);

}  // namespace ember::apps
