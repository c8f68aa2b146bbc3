// CPU threads: how many OpenMP threads (and OpenBLAS threads) ember's CPU backend uses.
// Default: EMBER_NUM_THREADS if set, else the cores available to this process. Programs
// expose it as --threads.
#pragma once

namespace ember {

int num_threads();
// Sets the thread count of OpenMP loops and OpenBLAS; n <= 0 means the default.
void set_num_threads(int n);

}  // namespace ember
