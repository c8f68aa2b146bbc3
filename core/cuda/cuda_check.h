// Checks for CUDA runtime and cuBLAS calls: on failure they throw ember::Error naming the
// failing expression, the library's message and file:line. EMBER_CUDA_LAUNCH_CHECK also
// synchronises when EMBER_CUDA_SYNC_CHECK is on (build option or environment variable
// EMBER_CUDA_SYNC=1), so an asynchronous fault is reported at the launch that caused it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "core/error.h"

namespace ember::cuda {

bool sync_after_launch();  // EMBER_CUDA_SYNC_CHECK or EMBER_CUDA_SYNC=1
const char* cublas_status_string(cublasStatus_t status);
void check_launch(cudaError_t err, const char* expr, const char* file, int line);
// Logs (never throws) a failure of a call made in a destructor.
void log_if_error(cudaError_t err, const char* expr, const char* file, int line);

}  // namespace ember::cuda

#define EMBER_CUDA_CHECK(expr)                                                                              \
  do {                                                                                                      \
    const cudaError_t ember_err_ = (expr);                                                                  \
    if (ember_err_ != cudaSuccess)                                                                          \
      ::ember::throw_error(__FILE__, __LINE__, fmt::format("CUDA error {} ({}) in {}", cudaGetErrorName(ember_err_), \
                                                         cudaGetErrorString(ember_err_), #expr));          \
  } while (0)

#define EMBER_CUBLAS_CHECK(expr)                                                                             \
  do {                                                                                                       \
    const cublasStatus_t ember_st_ = (expr);                                                                 \
    if (ember_st_ != CUBLAS_STATUS_SUCCESS)                                                                  \
      ::ember::throw_error(__FILE__, __LINE__,                                                               \
                           fmt::format("cuBLAS error {} in {}", ::ember::cuda::cublas_status_string(ember_st_), #expr)); \
  } while (0)

#define EMBER_CUDA_LAUNCH_CHECK(...) ::ember::cuda::check_launch((__VA_ARGS__), #__VA_ARGS__, __FILE__, __LINE__)
#define EMBER_CUDA_LOG_ERROR(expr) ::ember::cuda::log_if_error((expr), #expr, __FILE__, __LINE__)
