// The MPI entry point of a build without MPI (Note [optional MPI and NCCL]).
#include "core/dist/communicator.h"
#include "core/error.h"

namespace ember::dist {

bool mpi_built() { return false; }

std::unique_ptr<Communicator> make_mpi_communicator() {
  EMBER_FAIL("this build of ember has no MPI support (configured with EMBER_MPI=OFF or without an MPI; "
             "install libopenmpi-dev and reconfigure)");
}

}  // namespace ember::dist
