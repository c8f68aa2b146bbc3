#include "tests/support/headless_browser.h"

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace ember::testing {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

std::string find_chromium() {
  if (const char* env = std::getenv("EMBER_CHROMIUM")) return env;
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    const std::string probe = std::string("command -v ") + name + " >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return name;
  }
  return "";
}

BrowserLoad load_in_chromium(const std::string& chromium, const fs::path& page, const fs::path& scratch) {
  // --no-sandbox: CI and this machine run tests as root, where Chromium's sandbox refuses to start.
  const std::string command = "timeout 120 " + chromium +
                              " --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir='" +
                              (scratch / "chromium-profile").string() +
                              "' --enable-logging=stderr --v=0 --virtual-time-budget=5000 --dump-dom 'file://" +
                              fs::absolute(page).string() + "' >'" + (scratch / "dom.txt").string() + "' 2>'" +
                              (scratch / "log.txt").string() + "'";
  BrowserLoad load;
  load.status = std::system(command.c_str());
  load.dom = read_file(scratch / "dom.txt");
  load.log = read_file(scratch / "log.txt");
  return load;
}

std::string with_image_probe(std::string html) {
  // Without the page's Content-Security-Policy, so that the probe script may run. (A plain
  // search: GCC 12's std::regex trips -Wmaybe-uninitialized in the sanitizer build.)
  const std::string csp = "<meta http-equiv=\"Content-Security-Policy\"";
  for (size_t at = html.find(csp); at != std::string::npos; at = html.find(csp, at)) {
    const size_t end = html.find('>', at);
    html.erase(at, end == std::string::npos ? std::string::npos : end + 1 - at);
  }
  const size_t body = html.rfind("</body>");
  if (body == std::string::npos) return html;
  html.replace(body, 7,
               "<img src=\"data:image/png;base64,AAAA\" alt=\"broken on purpose\">"
               "<script>window.onload=function(){var n=0,b=0;for(const i of document.images){n++;"
               "if(!(i.complete&&i.naturalWidth>0))b++;}document.body.setAttribute('data-probe','images='+n+' "
               "broken='+b);};</script></body>");
  return html;
}

}  // namespace ember::testing
