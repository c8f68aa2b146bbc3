// The CUDA timing of a CPU-only build: --device cuda is refused earlier (check_device_usable),
// so these only guard against misuse.
#include "apps/ember-bench-optim/timing.h"
#include "core/error.h"

namespace ember::bench {

double cuda_median_ms(const std::function<void()>&, const TimingOptions&) {
  EMBER_FAIL("this build of ember has no CUDA support (configured with EMBER_CUDA=OFF)");
}

double cuda_copy_gb_per_s(const TimingOptions&) {
  EMBER_FAIL("this build of ember has no CUDA support (configured with EMBER_CUDA=OFF)");
}

}  // namespace ember::bench
