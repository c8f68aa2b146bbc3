// CPU threads: how many OpenMP threads ember's CPU backend uses.
//
// Note [one BLAS thread]
// OpenBLAS runs single-threaded: ember parallelises around its GEMMs with OpenMP (nn's
// convolutions split the batch into chunks), and OpenBLAS's own pthread pool would fight
// those threads for the cores. Switching its count per call costs ~20% of a ResNet step,
// so it stays at one; a lone large GEMM (core matmul) raises it for that call only.
// Default: EMBER_NUM_THREADS if set, else the cores available to this process. Programs
// expose it as --threads.
#pragma once

namespace ember {

int num_threads();
// Sets the thread count of OpenMP loops; n <= 0 means the default.
void set_num_threads(int n);

}  // namespace ember
