# Decides whether this build has the oneDNN CPU layers (EMBER_HAS_ONEDNN), like EmberCuda
# for CUDA: EMBER_ONEDNN=AUTO builds them when oneDNN is found, ON insists, OFF skips. The
# layers need oneDNN's OpenMP runtime (Note [oneDNN threads] in nn/onednn/onednn_context.h):
# a TBB or threadpool build would start a second thread pool beside ember's OpenMP team.
set(EMBER_HAS_ONEDNN OFF)
if(EMBER_ONEDNN STREQUAL "OFF")
  message(STATUS "ember: oneDNN CPU layers OFF (EMBER_ONEDNN=OFF): the reference CPU layers only")
else()
  find_package(DNNL QUIET)
  if(DNNL_FOUND AND DNNL_CPU_RUNTIME STREQUAL "OMP")
    set(EMBER_HAS_ONEDNN ON)
    message(STATUS "ember: oneDNN CPU layers ON (oneDNN ${DNNL_VERSION}, OpenMP runtime; EMBER_CPU_LAYERS picks at run time)")
  else()
    if(DNNL_FOUND)
      set(_why "oneDNN ${DNNL_VERSION} found but built with the ${DNNL_CPU_RUNTIME} runtime, not OpenMP")
    else()
      set(_why "no oneDNN found (Debian: libdnnl-dev)")
    endif()
    if(EMBER_ONEDNN STREQUAL "ON")
      message(FATAL_ERROR "EMBER_ONEDNN=ON but ${_why}")
    endif()
    message(STATUS "ember: oneDNN CPU layers OFF (${_why}): the reference CPU layers only")
  endif()
endif()
# Cached so that scripts and tests can ask a build folder whether it has oneDNN.
set(EMBER_HAS_ONEDNN ${EMBER_HAS_ONEDNN} CACHE INTERNAL "this build has the oneDNN CPU layers")
