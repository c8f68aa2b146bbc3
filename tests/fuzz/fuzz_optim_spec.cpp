// libFuzzer harness: the spec parsers of optim/spec.h on arbitrary text (an optimiser spec,
// an LR-schedule spec, a parameter group's options). Any text either parses - and then the
// canonical form prints and parses back to itself - or fails with one clean UsageError.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "optim/spec.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

void check_round_trip(const std::string& first, const std::string& second) {
  if (first != second) {
    std::fprintf(stderr, "fuzz: '%s' parses back as '%s'\n", first.c_str(), second.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::runs_or_fails_cleanly([&] {
    const std::string canonical = optim::format_optimizer_spec(optim::parse_optimizer_spec(text));
    check_round_trip(canonical, optim::format_optimizer_spec(optim::parse_optimizer_spec(canonical)));
  });
  fuzz::runs_or_fails_cleanly([&] {
    const std::string canonical = optim::format_lr_schedule(optim::parse_lr_schedule(text));
    check_round_trip(canonical, optim::format_lr_schedule(optim::parse_lr_schedule(canonical)));
  });
  fuzz::runs_or_fails_cleanly([&] {
    optim::parse_group_options("adamw", optim::default_hyperparameters("adamw"), text);
  });
  return 0;
}
