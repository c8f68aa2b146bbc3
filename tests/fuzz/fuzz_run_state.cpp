// libFuzzer harness: ember-train's run state (the JSON a checkpoint keeps as metadata) through
// train::run_state_from_json. Any JSON either reads - and then writes and reads back to the
// same JSON - or fails with one clean Error. Input that is not JSON at all is what
// load_run_checkpoint turns into its "not valid JSON" Error before this point; it is skipped.
#include <cstdint>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "apps/ember-train/run_state.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  train::RunState state;
  if (!fuzz::runs_or_fails_cleanly([&] { state = train::run_state_from_json(j); })) return 0;
  const nlohmann::json written = train::to_json(state);
  if (train::to_json(train::run_state_from_json(written)) != written) {
    std::fprintf(stderr, "fuzz: the run state does not read back as written: %s\n", written.dump().c_str());
    std::abort();
  }
  return 0;
}
