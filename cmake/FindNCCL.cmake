# FindNCCL: NVIDIA's collective communication library, headers and library.
#   NCCL_ROOT (variable or environment) overrides the search, e.g. the include/ and lib/ of
#   the nvidia-nccl-cu13 wheel on PyPI (python3 -c "import nvidia.nccl, os;
#   print(os.path.dirname(nvidia.nccl.__file__))"); a system install is found without it.
# Defines NCCL::nccl, NCCL_FOUND, NCCL_VERSION.
include(${CMAKE_CURRENT_LIST_DIR}/EmberFindHelpers.cmake)
set(_nccl_hints ${NCCL_ROOT} $ENV{NCCL_ROOT} ${CUDAToolkit_LIBRARY_ROOT} /usr/local/cuda /usr)
find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${_nccl_hints} PATH_SUFFIXES include)
# The wheel ships only libnccl.so.2 (no development symlink).
find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${_nccl_hints}
             PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu)
if(NCCL_INCLUDE_DIR AND EXISTS "${NCCL_INCLUDE_DIR}/nccl.h")
  ember_header_version(NCCL_VERSION "${NCCL_INCLUDE_DIR}/nccl.h" NCCL_MAJOR NCCL_MINOR NCCL_PATCH)
endif()
ember_imported_library(NCCL NCCL::nccl)
