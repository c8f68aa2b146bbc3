# Decides whether this build has the CUDA backend (EMBER_HAS_CUDA) and, if so, enables the
# CUDA language, picks architectures and finds the CUDA toolkit and cuDNN.
include(CheckLanguage)
set(EMBER_HAS_CUDA OFF)
if(EMBER_CUDA STREQUAL "OFF")
  message(STATUS "ember: CPU-only configuration (EMBER_CUDA=OFF)")
else()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(EMBER_HAS_CUDA ON)
  elseif(EMBER_CUDA STREQUAL "ON")
    message(FATAL_ERROR "EMBER_CUDA=ON but no CUDA compiler was found (set CMAKE_CUDA_COMPILER or CUDAToolkit_ROOT)")
  else()
    message(STATUS "ember: no CUDA toolkit found, building the CPU-only configuration (EMBER_CUDA=OFF)")
  endif()
endif()

if(EMBER_HAS_CUDA)
  # Architectures: `native` when a GPU is visible now, else a short list with Hopper (90).
  # CI overrides with -DCMAKE_CUDA_ARCHITECTURES=90 to keep the build lean.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    execute_process(COMMAND nvidia-smi -L OUTPUT_VARIABLE _ember_gpus RESULT_VARIABLE _ember_smi
                    ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(_ember_smi EQUAL 0 AND _ember_gpus MATCHES "GPU")
      set(CMAKE_CUDA_ARCHITECTURES native)
    else()
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(CUDAToolkit REQUIRED)
  find_package(CUDNN REQUIRED)
  message(STATUS "ember: CUDA backend ON (architectures: ${CMAKE_CUDA_ARCHITECTURES}, cuDNN ${CUDNN_VERSION})")
endif()
# Cached so that scripts can ask a build folder whether it has CUDA (scripts/run.sh).
set(EMBER_HAS_CUDA ${EMBER_HAS_CUDA} CACHE INTERNAL "this build has the CUDA backend")
