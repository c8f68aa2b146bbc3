# Note [optional MPI and NCCL]
# Decides whether this build can run as several processes (EMBER_HAS_MPI: Open MPI or any MPI,
# started by mpirun or srun) and whether GPUs talk through NCCL (EMBER_HAS_NCCL: needs CUDA,
# and MPI to hand the NCCL id to every rank). Like CUDA: AUTO builds what is found, ON fails
# when it is missing, OFF never looks. core/dist/ compiles mpi_communicator.cpp or
# mpi_unavailable.cpp (and the same for NCCL), so a build without them says so clearly when a
# launcher starts it, and no #ifdef is needed.
set(EMBER_MPI AUTO CACHE STRING "Build the MPI communicator (several processes): AUTO, ON or OFF")
set_property(CACHE EMBER_MPI PROPERTY STRINGS AUTO ON OFF)
set(EMBER_NCCL AUTO CACHE STRING "Build the NCCL communicator (GPUs; needs CUDA and MPI): AUTO, ON or OFF")
set_property(CACHE EMBER_NCCL PROPERTY STRINGS AUTO ON OFF)

set(EMBER_HAS_MPI OFF)
if(NOT EMBER_MPI STREQUAL "OFF")
  # The C API through the C++ compiler (the project enables no C); not the deprecated C++
  # bindings.
  set(MPI_CXX_SKIP_MPICXX ON)
  find_package(MPI COMPONENTS CXX QUIET)
  if(MPI_CXX_FOUND)
    set(EMBER_HAS_MPI ON)
    execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _ember_mpi_version ERROR_QUIET)
    string(REGEX REPLACE "\n.*" "" _ember_mpi_version "${_ember_mpi_version}")
    message(STATUS "ember: MPI ON (MPI ${MPI_CXX_VERSION}, ${_ember_mpi_version}; tests run under ${MPIEXEC_EXECUTABLE})")
  elseif(EMBER_MPI STREQUAL "ON")
    message(FATAL_ERROR "EMBER_MPI=ON but no MPI was found (Debian: apt-get install libopenmpi-dev openmpi-bin)")
  else()
    message(STATUS "ember: MPI not found, single-process build (EMBER_MPI=OFF; Debian: libopenmpi-dev)")
  endif()
else()
  message(STATUS "ember: MPI off (EMBER_MPI=OFF), single-process build")
endif()

set(EMBER_HAS_NCCL OFF)
if(NOT EMBER_NCCL STREQUAL "OFF" AND EMBER_HAS_CUDA AND EMBER_HAS_MPI)
  find_package(NCCL QUIET)
  if(NCCL_FOUND)
    set(EMBER_HAS_NCCL ON)
    message(STATUS "ember: NCCL ON (${NCCL_VERSION}, ${NCCL_LIBRARY})")
  endif()
endif()
if(NOT EMBER_HAS_NCCL)
  if(EMBER_NCCL STREQUAL "ON")
    message(FATAL_ERROR "EMBER_NCCL=ON needs CUDA, MPI and NCCL (set NCCL_ROOT to its include/ and lib/ folder)")
  elseif(EMBER_NCCL STREQUAL "AUTO")
    message(STATUS "ember: NCCL not built (needs CUDA + MPI + NCCL; set NCCL_ROOT), GPU ranks cannot talk")
  endif()
endif()
# Cached so that scripts can ask a build folder (scripts/test.sh, apps' tests).
set(EMBER_HAS_MPI ${EMBER_HAS_MPI} CACHE INTERNAL "this build has the MPI communicator")
set(EMBER_HAS_NCCL ${EMBER_HAS_NCCL} CACHE INTERNAL "this build has the NCCL communicator")
