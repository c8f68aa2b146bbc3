#include "optim/hybrid.h"

namespace ember::optim {

std::vector<bool> hidden_weights(const FlatParameters& params) {
  const std::vector<FlatEntry>& entries = params.entries();
  std::vector<bool> hidden(entries.size(), false);
  int64_t output_layer = -1;  // `order` of the last trainable matrix
  for (const FlatEntry& e : entries)
    if (e.trainable && e.param.dim() >= 2 && e.order > output_layer) output_layer = e.order;
  for (size_t i = 0; i < entries.size(); ++i)
    hidden[i] = entries[i].trainable && entries[i].param.dim() >= 2 && entries[i].order != output_layer;
  return hidden;
}

}  // namespace ember::optim
