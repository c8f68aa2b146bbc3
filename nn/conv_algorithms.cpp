#include "nn/conv_algorithms.h"

#include <atomic>

namespace ember::nn {

namespace {
std::atomic<bool> deterministic{false};  // Note [deterministic convolutions]
}  // namespace

void set_deterministic_convolutions(bool enabled) { deterministic = enabled; }
bool deterministic_convolutions() { return deterministic; }

}  // namespace ember::nn
