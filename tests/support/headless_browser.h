// Loading a page in headless Chromium (Debian's chromium), for the tests of report.html.
#pragma once

#include <filesystem>
#include <string>

namespace ember::testing {

// The chromium command (EMBER_CHROMIUM overrides), or "" when none is installed.
std::string find_chromium();

struct BrowserLoad {
  int status = -1;   // the command's exit status (0: loaded)
  std::string dom;   // the DOM after loading (and 5 s of virtual time for scripts)
  std::string log;   // Chromium's log; console messages are its ":CONSOLE" lines
};
// Loads `page` (a local file) with a fresh profile in `scratch` (a folder the caller owns).
BrowserLoad load_in_chromium(const std::string& chromium, const std::filesystem::path& page,
                             const std::filesystem::path& scratch);

// A copy of the HTML `html` that a browser can check: the Content-Security-Policy taken out and
// a probe script added that sets the body's data-probe attribute to "images=N broken=B" (the
// images that did not decode), with one broken image added on purpose (so B >= 1 shows the
// probe works).
std::string with_image_probe(std::string html);

}  // namespace ember::testing
