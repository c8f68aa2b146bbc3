// The NCCL entry point of a build without NCCL (Note [optional MPI and NCCL]).
#include "core/dist/communicator.h"
#include "core/error.h"

namespace ember::dist {

bool nccl_built() { return false; }

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator>) {
  EMBER_FAIL("this build of ember has no NCCL support, so GPU ranks cannot exchange gradients (it needs CUDA, MPI "
             "and NCCL at configure time; point NCCL_ROOT at NCCL's include/ and lib/, e.g. the nvidia-nccl-cu13 "
             "wheel, and reconfigure)");
}

}  // namespace ember::dist
