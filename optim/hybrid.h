// Which parameters each part of a hybrid optimiser `A+B` updates (optim/spec.h; DESIGN
// decision 10). A gets the hidden weights: the trainable parameters of rank >= 2 except the
// output layer, which is the last trainable parameter of rank >= 2 in the model's order
// (ResNet-18's fc.weight): the practice of Muon's authors and torch.optim.Muon's advice, that
// the input and hidden layers' weights go to Muon and the classifier, biases and
// normalisation parameters to a standard optimiser. B gets every other trainable parameter.
// Frozen parameters belong to neither.
#pragma once

#include <vector>

#include "optim/flat_parameters.h"

namespace ember::optim {

// hidden[i] for params.entries()[i].
std::vector<bool> hidden_weights(const FlatParameters& params);

}  // namespace ember::optim
