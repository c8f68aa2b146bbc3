#include "nn/onednn/onednn_context.h"

#include <omp.h>

#include "core/error.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace ember::nn::onednn {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpu_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

void throw_onednn_error(const char* primitive, const std::string& shape, const dnnl::error& e) {
  EMBER_FAIL("oneDNN {} {}: {} (status {})", primitive, shape, e.what(), static_cast<int>(e.status));
}

ThreadTeam::ThreadTeam() : size_(num_threads()), previous_(omp_get_max_threads()) {
  if (previous_ != size_) omp_set_num_threads(size_);
}

ThreadTeam::~ThreadTeam() {
  if (previous_ != size_) omp_set_num_threads(previous_);
}

dnnl::primitive_attr user_scratchpad_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::memory Execution::wrap(const dnnl::memory::desc& desc, const Tensor& t) {
  return dnnl::memory(desc, cpu_engine(), t.raw_data());
}

dnnl::memory Execution::temporary(const dnnl::memory::desc& desc) {
  const size_t bytes = desc.get_size();
  if (bytes == 0) return dnnl::memory(desc, cpu_engine(), nullptr);
  keep_.push_back(empty({static_cast<int64_t>(bytes)}, DType::UInt8));
  return dnnl::memory(desc, cpu_engine(), keep_.back().raw_data());
}

void Execution::run(const dnnl::primitive& p, std::unordered_map<int, dnnl::memory> args,
                    const dnnl::memory::desc& scratchpad) {
  if (scratchpad.get_size() > 0) args.emplace(DNNL_ARG_SCRATCHPAD, temporary(scratchpad));
  dnnl::stream& stream = cpu_stream();
  p.execute(stream, args);
  stream.wait();  // the CPU stream runs in order and at once; this only makes it explicit
}

dnnl::memory::data_type onednn_type(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return dnnl::memory::data_type::f32;
    case DType::BFloat16:
      return dnnl::memory::data_type::bf16;
    default:
      EMBER_FAIL("internal: no oneDNN data type for {}", dtype_name(dtype));
  }
}

dnnl::memory::desc plain_desc(const Tensor& t) {
  using tag = dnnl::memory::format_tag;
  const dnnl::memory::dims dims(t.sizes().begin(), t.sizes().end());
  const tag layout = t.dim() == 4 ? tag::abcd : t.dim() == 2 ? tag::ab : tag::a;
  return dnnl::memory::desc(dims, onednn_type(t.dtype()), layout);
}

}  // namespace ember::nn::onednn
