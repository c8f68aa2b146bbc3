// How the CUDA backend picks its cuDNN convolution algorithms (nn/cuda/cudnn_conv.cpp).
//
// Note [deterministic convolutions]
// By default each convolution shape's algorithms are the fastest that cudnnFind*Ex measures
// on first use, so two runs (or a run and its resume) may pick different ones, and some
// backward algorithms (backward-data ALGO_0, backward-filter ALGO_0 and ALGO_3) sum with
// atomics in an order that changes from call to call. Deterministic mode (ember-train and
// ember-bench-train --deterministic, like torch.backends.cudnn.deterministic = True with
// benchmark = False) picks from cuDNN's heuristics instead of timings - the same choice for
// the same shape, GPU and cuDNN version every time - and only algorithms cuDNN reports as
// CUDNN_DETERMINISTIC. The setting is read when a convolution runs and is part of the plan
// cache key, so switching it takes effect at the next call. The CPU backend is deterministic
// either way.
#pragma once

namespace ember::nn {

void set_deterministic_convolutions(bool enabled);
bool deterministic_convolutions();

}  // namespace ember::nn
