// A model summary in the style of torchinfo: every module call of one forward pass in call
// order, with its output shape, parameter count and forward FLOPs, then totals.
//
// The model is traced once with a batch of 1 (evaluation mode, no autograd, on the model's
// device; its training flag is restored after), and shapes, FLOPs and activation memory are
// scaled to `batch_size`: every layer here is per-sample, so they are linear in the batch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/module.h"

namespace ember::nn {

struct SummaryRow {
  std::string name;    // qualified name ("layer1.0.conv1"; "" for the model itself)
  std::string type;    // "Conv2d"
  int depth = 0;       // 0 for the model, 1 for its children, ...
  Shape output;        // at the summary's batch size
  int64_t parameters = 0;  // of this module and its children
  int64_t flops = 0;       // of this call, children included
};

struct ModelSummary {
  std::vector<SummaryRow> rows;
  Shape input;                   // at the summary's batch size
  DType dtype = DType::Float32;  // of the model's floating parameters
  int64_t batch_size = 1;
  int64_t total_parameters = 0, trainable_parameters = 0;
  int64_t parameter_bytes = 0;   // parameters + buffers
  int64_t flops = 0;             // forward pass, a multiply-add counts 2
  // Bytes of the outputs of every leaf-module call (the activations a training step keeps
  // for its backward, roughly) at the summary's batch size and the model's dtype.
  int64_t activation_bytes = 0;
};

// `input_shape` excludes the batch dimension ({3, 224, 224}).
ModelSummary summarize(Module& model, const Shape& input_shape, int64_t batch_size);

// The table and totals as text; the last two lines are "total parameters: N" and
// "trainable parameters: N" (plain integers, no separators).
std::string format_summary(const ModelSummary& summary);

// 11181642 -> "11,181,642".
std::string with_thousands(int64_t value);

}  // namespace ember::nn
