# FindDNNL: oneDNN (Debian's libdnnl-dev) headers and library, without its CMake package
# (dnnl-config.cmake insists on the OpenCL headers of its GPU runtime, which the CPU layers
# never use).
#   DNNL_ROOT (variable or environment) overrides the search.
# Defines DNNL::dnnl, DNNL_FOUND, DNNL_VERSION and DNNL_CPU_RUNTIME (OMP, TBB, SEQ or
# THREADPOOL: the threading runtime it was built with, read from dnnl_config.h).
include(${CMAKE_CURRENT_LIST_DIR}/EmberFindHelpers.cmake)
set(_dnnl_hints ${DNNL_ROOT} $ENV{DNNL_ROOT} /usr/local /usr)
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp HINTS ${_dnnl_hints} PATH_SUFFIXES include)
find_library(DNNL_LIBRARY NAMES dnnl HINTS ${_dnnl_hints} PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu)
if(DNNL_INCLUDE_DIR AND EXISTS "${DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h")
  ember_header_version(DNNL_VERSION "${DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h"
                       DNNL_VERSION_MAJOR DNNL_VERSION_MINOR DNNL_VERSION_PATCH)
  file(STRINGS "${DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_config.h" _rt REGEX "#define DNNL_CPU_THREADING_RUNTIME ")
  string(REGEX REPLACE ".*DNNL_RUNTIME_([A-Z]+).*" "\\1" DNNL_CPU_RUNTIME "${_rt}")
endif()
ember_imported_library(DNNL DNNL::dnnl)
