#include "nn/onednn/onednn_plan.h"

namespace ember::nn::onednn {

Operand::Operand(const dnnl::memory::desc& user, const dnnl::memory::desc& inner, bool input)
    : user_(user), inner_(inner) {
  if (user == inner) return;
  const dnnl::memory::desc& from = input ? user : inner;
  const dnnl::memory::desc& to = input ? inner : user;
  dnnl::reorder::primitive_desc pd(cpu_engine(), from, cpu_engine(), to, user_scratchpad_attr());
  reorder_.emplace(pd);
  scratchpad_ = pd.scratchpad_desc();
}

dnnl::memory Operand::read(Execution& exec, const Tensor& t) const {
  const dnnl::memory user = exec.wrap(user_, t);
  if (!reorder_) return user;
  dnnl::memory inner = exec.temporary(inner_);
  exec.run(*reorder_, {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, inner}}, scratchpad_);
  return inner;
}

dnnl::memory Operand::target(Execution& exec, const Tensor& t) const {
  return reorder_ ? exec.temporary(inner_) : exec.wrap(user_, t);
}

void Operand::finish(Execution& exec, const dnnl::memory& written, const Tensor& t) const {
  if (!reorder_) return;
  exec.run(*reorder_, {{DNNL_ARG_FROM, written}, {DNNL_ARG_TO, exec.wrap(user_, t)}}, scratchpad_);
}

}  // namespace ember::nn::onednn
