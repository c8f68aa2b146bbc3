// Cached oneDNN primitives (internal to nn/onednn/): an Operand moves one tensor between the
// caller's plain layout and the layout a primitive chose (format_tag::any), with the reorder
// made once; a PlanCache holds the primitives of each problem, made once per key (Note
// [oneDNN threads]: the key holds the thread count) - as oneDNN's own examples and PyTorch's
// mkldnn layers do.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "nn/onednn/onednn_context.h"

namespace ember::nn::onednn {

// One tensor argument of a primitive.
class Operand {
 public:
  Operand() = default;
  // `user`: the caller's layout; `inner`: the primitive's; `input`: read by the primitive
  // (reordered user -> inner before it runs) or written (inner -> user after).
  Operand(const dnnl::memory::desc& user, const dnnl::memory::desc& inner, bool input);

  // The memory the primitive reads: `t` itself, or its reordered copy.
  dnnl::memory read(Execution& exec, const Tensor& t) const;
  // The memory the primitive writes: `t` itself, or a temporary that finish() copies into `t`.
  dnnl::memory target(Execution& exec, const Tensor& t) const;
  void finish(Execution& exec, const dnnl::memory& written, const Tensor& t) const;
  const dnnl::memory::desc& inner() const { return inner_; }

 private:
  dnnl::memory::desc user_, inner_, scratchpad_;
  std::optional<dnnl::reorder> reorder_;  // empty when both layouts are the same
};

// Primitives of type Plan by key; make(key) builds one and returns nullptr where oneDNN has
// no implementation (the caller falls back; the "no" is cached too).
template <class Key, class Plan>
class PlanCache {
 public:
  using Make = std::function<std::unique_ptr<Plan>(const Key&)>;
  const Plan* get(const Key& key, const Make& make) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = plans_.find(key);
    if (it == plans_.end()) it = plans_.emplace(key, make(key)).first;
    return it->second.get();
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mutex_);
    return plans_.size();
  }

 private:
  std::mutex mutex_;
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

// Makes a primitive descriptor with make_pd(); nothing where oneDNN has no implementation,
// an ember::Error naming `primitive` and `shape` for any other failure.
template <class Pd, class F>
std::optional<Pd> try_primitive_desc(const char* primitive, const std::string& shape, F&& make_pd) {
  try {
    return make_pd();
  } catch (const dnnl::error& e) {
    if (is_unimplemented(e)) return std::nullopt;
    throw_onednn_error(primitive, shape, e);
  }
}

}  // namespace ember::nn::onednn
