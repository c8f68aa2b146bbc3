#include "apps/common/app_main.h"

#include <cstdio>
#include <exception>

#include "core/error.h"
#include "core/printable.h"

namespace ember::apps {

namespace {
std::string& prefix_storage() {
  static std::string prefix;
  return prefix;
}
}  // namespace

void set_stderr_prefix(const std::string& prefix) { prefix_storage() = prefix; }
const std::string& stderr_prefix() { return prefix_storage(); }

int run_main(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  const std::string program = app.get_name().empty() ? "ember" : app.get_name();
  // Read when printing: the body may set the prefix (stderr_prefix).
  auto name = [&] { return stderr_prefix() + program; };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", name().c_str(), printable(e.what()).c_str());
    return kExitUsage;
  }
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: %s\n", name().c_str(), e.message().c_str());
    return kExitUsage;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", name().c_str(), e.message().c_str());
    return kExitError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", name().c_str(), printable(e.what()).c_str());
    return kExitError;
  }
}

}  // namespace ember::apps
