// EMBER_CPU_CLONES: a CPU loop compiled for AVX-512, AVX2 and the x86-64 baseline, the best
// one the processor has picked at load time (GCC target clones). x86-64 builds target the 2003
// baseline (SSE2, 4 floats); wider vectors matter where a loop is compute-bound (RMSprop's and
// Adam's sqrt and divisions, the 8-bit step's map gathers, batch norm's bfloat16 conversions:
// optim/cpu_step.cpp, optim/cpu_blockwise8.cpp, nn/cpu/batch_norm_kernels_cpu.cpp). The files
// using it are compiled without FMA contraction (-ffp-contract=off), so every clone gives the
// same bits.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define EMBER_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define EMBER_CPU_CLONES
#endif
