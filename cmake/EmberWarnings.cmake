# Warnings per target and per language; EMBER_WERROR turns them into errors.
function(ember_target_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${EMBER_WERROR}>>:-Werror>
    $<$<COMPILE_LANGUAGE:CUDA>:-lineinfo --expt-relaxed-constexpr -Xcompiler=-Wall,-Wextra,-Wno-unused-parameter>
    $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${EMBER_WERROR}>>:-Werror=all-warnings>)
endfunction()

# ember_cuda_sources(target CPU_ONLY stub.cpp CUDA a.cu b.cpp ...): adds the CUDA sources
# when this build has CUDA, else the stub (see Note [optional CUDA] in the top CMakeLists).
function(ember_cuda_sources target)
  cmake_parse_arguments(ARG "" "" "CPU_ONLY;CUDA" ${ARGN})
  if(EMBER_HAS_CUDA)
    target_sources(${target} PRIVATE ${ARG_CUDA})
  else()
    target_sources(${target} PRIVATE ${ARG_CPU_ONLY})
  endif()
endfunction()

# ember_optional_sources(target <built?> REAL sources... [LIBS libraries...] STUB sources...):
# the real sources (linked to LIBS) when the optional dependency (MPI, NCCL, oneDNN) is built,
# the "unavailable" stub otherwise.
function(ember_optional_sources target built)
  cmake_parse_arguments(ARG "" "" "REAL;LIBS;STUB" ${ARGN})
  if(built)
    target_sources(${target} PRIVATE ${ARG_REAL})
    target_link_libraries(${target} PRIVATE ${ARG_LIBS})
  else()
    target_sources(${target} PRIVATE ${ARG_STUB})
  endif()
endfunction()
