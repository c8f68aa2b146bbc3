# FindDNNL: oneDNN (Debian's libdnnl-dev) headers and library, without its CMake package
# (dnnl-config.cmake insists on the OpenCL headers of its GPU runtime, which the CPU layers
# never use).
#   DNNL_ROOT (variable or environment) overrides the search.
# Defines DNNL::dnnl, DNNL_FOUND, DNNL_VERSION and DNNL_CPU_RUNTIME (OMP, TBB, SEQ or
# THREADPOOL: the threading runtime it was built with, read from dnnl_config.h).
set(_dnnl_hints ${DNNL_ROOT} $ENV{DNNL_ROOT} /usr/local /usr)
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp HINTS ${_dnnl_hints} PATH_SUFFIXES include)
find_library(DNNL_LIBRARY NAMES dnnl HINTS ${_dnnl_hints} PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu)
if(DNNL_INCLUDE_DIR AND EXISTS "${DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h")
  file(STRINGS "${DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h" _v REGEX "#define DNNL_VERSION_(MAJOR|MINOR|PATCH) +[0-9]+")
  string(REGEX REPLACE ".*DNNL_VERSION_MAJOR +([0-9]+).*" "\\1" _major "${_v}")
  string(REGEX REPLACE ".*DNNL_VERSION_MINOR +([0-9]+).*" "\\1" _minor "${_v}")
  string(REGEX REPLACE ".*DNNL_VERSION_PATCH +([0-9]+).*" "\\1" _patch "${_v}")
  set(DNNL_VERSION "${_major}.${_minor}.${_patch}")
  file(STRINGS "${DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_config.h" _rt REGEX "#define DNNL_CPU_THREADING_RUNTIME ")
  string(REGEX REPLACE ".*DNNL_RUNTIME_([A-Z]+).*" "\\1" DNNL_CPU_RUNTIME "${_rt}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(DNNL REQUIRED_VARS DNNL_LIBRARY DNNL_INCLUDE_DIR VERSION_VAR DNNL_VERSION)
if(DNNL_FOUND AND NOT TARGET DNNL::dnnl)
  add_library(DNNL::dnnl UNKNOWN IMPORTED)
  set_target_properties(DNNL::dnnl PROPERTIES IMPORTED_LOCATION "${DNNL_LIBRARY}"
                        INTERFACE_INCLUDE_DIRECTORIES "${DNNL_INCLUDE_DIR}")
endif()
mark_as_advanced(DNNL_INCLUDE_DIR DNNL_LIBRARY)
