# FindCUDNN: cuDNN headers and library.
#   CUDNN_ROOT (variable or environment) overrides the search, e.g. the include/ and lib/ of
#   the nvidia-cudnn wheel that PyTorch ships.
# Defines CUDNN::cudnn, CUDNN_FOUND, CUDNN_VERSION.
include(${CMAKE_CURRENT_LIST_DIR}/EmberFindHelpers.cmake)
set(_cudnn_hints ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_LIBRARY_ROOT} ${CUDAToolkit_TARGET_DIR}
    /usr/local/cuda /usr)
find_path(CUDNN_INCLUDE_DIR cudnn_version.h HINTS ${_cudnn_hints} PATH_SUFFIXES include)
find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 HINTS ${_cudnn_hints}
             PATH_SUFFIXES lib lib64 lib/x64 lib/x86_64-linux-gnu)
if(CUDNN_INCLUDE_DIR AND EXISTS "${CUDNN_INCLUDE_DIR}/cudnn_version.h")
  ember_header_version(CUDNN_VERSION "${CUDNN_INCLUDE_DIR}/cudnn_version.h" CUDNN_MAJOR CUDNN_MINOR CUDNN_PATCHLEVEL)
endif()
ember_imported_library(CUDNN CUDNN::cudnn)
