#include "optim/segments.h"

#include <cstring>

#include "core/ops.h"

namespace ember::optim {

SegmentTable make_segment_table(const std::vector<SegmentSource>& sources, Device device) {
  SegmentTable t;
  for (const SegmentSource& p : sources) {
    if (p.numel == 0) continue;
    kernels::OptimSegment* last = t.segments.empty() ? nullptr : &t.segments.back();
    if (last != nullptr && last->group == p.group && last->end == p.offset &&
        last->state_begin + (last->end - last->begin) == p.state_offset) {
      last->end = p.offset + p.numel;
      continue;
    }
    kernels::OptimSegment s;
    s.begin = p.offset;
    s.end = p.offset + p.numel;
    s.state_begin = p.state_offset;
    s.group = p.group;
    t.segments.push_back(s);
  }
  for (kernels::OptimSegment& s : t.segments) {
    s.first_granule = t.num_granules;
    t.num_granules += kernels::segment_granules(s);
  }
  constexpr size_t kWords = sizeof(kernels::OptimSegment) / sizeof(int64_t);
  std::vector<int64_t> words(t.segments.size() * kWords);
  if (!t.segments.empty()) std::memcpy(words.data(), t.segments.data(), words.size() * sizeof(int64_t));
  t.table = from_vector(words, {static_cast<int64_t>(words.size())}, TensorOptions(DType::Int64).device(device));
  return t;
}

}  // namespace ember::optim
