// Segment tables: the runs of parameters that one fused element-wise step walks (Note [flat
// buffer alignment] in kernels/optim_flat.h), built from a list of parameters and uploaded to
// the device the step runs on. FlatParameters has one over every trainable parameter; each
// part of a hybrid optimiser (optim/optimizer_part.h) has its own over its parameters.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "kernels/optim_flat.h"

namespace ember::optim {

// One parameter as a segment table sees it.
struct SegmentSource {
  int64_t offset = 0;        // in the flat parameter buffers (a multiple of 4)
  int64_t numel = 0;
  int64_t state_offset = 0;  // in the state buffers (a multiple of 4)
  int group = 0;
};

struct SegmentTable {
  std::vector<kernels::OptimSegment> segments;  // host copy
  Tensor table;                                  // the same on the device, as the kernels read it
  int64_t num_granules = 0;

  // The table for an executor on `device` (the host copy for the CPU).
  const kernels::OptimSegment* data(Device device) const {
    return device.is_cpu() ? segments.data() : static_cast<const kernels::OptimSegment*>(table.raw_data());
  }
};

// Parameters in `sources` order; a run of non-empty parameters of one group that follow each
// other without a gap, in the parameter and in the state buffers, is one segment.
SegmentTable make_segment_table(const std::vector<SegmentSource>& sources, Device device);

}  // namespace ember::optim
