#include "core/dist/communicator.h"

#include <utility>

#include "core/dist/launch.h"
#include "core/error.h"

namespace ember::dist {

int64_t displacement(const std::vector<int64_t>& counts, int rank) {
  EMBER_CHECK(rank >= 0 && rank < static_cast<int>(counts.size()), "dist: rank {} of {} parts", rank, counts.size());
  int64_t first = 0;
  for (int r = 0; r < rank; ++r) first += counts[r];
  return first;
}

std::unique_ptr<Communicator> make_communicator(Device device) {
  const LaunchInfo launch = detect_launch();
  if (launch.size <= 1) return make_local_communicator();
  EMBER_USAGE_CHECK(mpi_built(),
                    "started by {} as rank {} of {}, but this build of ember has no MPI (configure found none or "
                    "EMBER_MPI=OFF; install libopenmpi-dev and rebuild, or run one process)",
                    launch.launcher, launch.rank, launch.size);
  std::unique_ptr<Communicator> mpi = make_mpi_communicator();
  if (device.is_cpu()) return mpi;
  return make_nccl_communicator(std::move(mpi));
}

}  // namespace ember::dist
