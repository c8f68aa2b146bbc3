// What every harness of tests/fuzz checks besides the sanitizers (Note [fuzzing] in the top
// CMakeLists.txt): bad input may only end in an ember::Error whose message is one line of
// valid UTF-8 (what a program prints before it exits 1 or 2). Any other exception escapes the
// harness and libFuzzer reports it; a bad message aborts.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "core/printable.h"

namespace ember::fuzz {

inline void check_message(const Error& e) {
  const std::string& m = e.message();
  if (m.empty() || !is_valid_utf8(m) || m.find('\n') != std::string::npos || m.find('\r') != std::string::npos) {
    std::fprintf(stderr, "fuzz: an error message that is not one line of valid UTF-8: %s\n", printable(m).c_str());
    std::abort();
  }
}

// Runs f(); an ember::Error with a clean message is a correct answer to bad input.
template <class F>
bool runs_or_fails_cleanly(F&& f) {
  try {
    f();
    return true;
  } catch (const Error& e) {
    check_message(e);
    return false;
  }
}

// The readers under test take paths: each input becomes one file in memory-backed /dev/shm
// when there is one (this process's own name, rewritten for every input, removed at exit).
inline std::string write_input(const char* target, const uint8_t* data, size_t size) {
  static const std::string path = [&] {
    static std::string p = std::string(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/ember-fuzz-" +
                           target + "-" + std::to_string(getpid());
    std::atexit([] { std::remove(p.c_str()); });
    return p;
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace ember::fuzz
