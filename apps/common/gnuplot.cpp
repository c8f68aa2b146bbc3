#include "apps/common/gnuplot.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "core/error.h"

namespace ember::apps {

std::string gnuplot_missing_reason() {
  static const std::string reason = [] {
    const int status = std::system("gnuplot --version > /dev/null 2>&1");
    return status == 0 ? std::string()
                       : std::string("gnuplot is not installed (apt-get install gnuplot-nox): no PNG figures");
  }();
  return reason;
}

void run_gnuplot(const std::string& script, const std::string& what) {
  char path[] = "/tmp/ember-plot-XXXXXX";
  const int fd = mkstemp(path);
  EMBER_CHECK(fd >= 0, "cannot create a temporary file for the {} plot", what);
  close(fd);
  {
    std::ofstream out(path);
    out << script;
    EMBER_CHECK(out.good(), "cannot write the gnuplot script for {}", what);
  }
  const std::string command = std::string("gnuplot ") + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  if (pipe) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, pipe)) output += buf;
  }
  const int status = pipe ? pclose(pipe) : -1;
  std::remove(path);
  EMBER_CHECK(status == 0, "gnuplot failed drawing {} (status {}): {}", what, status, output);
}

std::string gnuplot_quote(const std::string& text) {
  std::string q = "'";
  for (char c : text) q += (c == '\'') ? std::string("''") : std::string(1, c);
  return q + "'";
}

}  // namespace ember::apps
