// The communicator of the tests that run under `mpirun -np 2` (tests/dist/CMakeLists.txt):
// skips with the reason when this build has no MPI or the binary was started without the
// launcher.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "core/dist/communicator.h"
#include "core/dist/launch.h"

// Declares `name`, the MPI communicator over the two ranks, or skips the test.
#define EMBER_TWO_RANKS(name)                                                                             \
  if (!::ember::dist::mpi_built()) GTEST_SKIP() << "this build has no MPI (EMBER_MPI=OFF or none found)"; \
  if (::ember::dist::detect_launch().size != 2)                                                            \
    GTEST_SKIP() << "needs two ranks: ctest runs it under mpirun -np 2 (test DistTwoRanks)";              \
  std::unique_ptr<::ember::dist::Communicator> name = ::ember::dist::make_communicator(::ember::Device::cpu())
