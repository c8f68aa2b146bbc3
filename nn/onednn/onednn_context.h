// What every oneDNN layer needs: the CPU engine and a stream, errors as ember::Error, the
// thread team, and memory from ember's allocator (internal to nn/onednn/).
//
// Note [oneDNN threads]
// Debian's oneDNN is built with the OpenMP runtime (cmake/EmberOnednn.cmake insists), so its
// primitives run on the same libgomp team as ember's own loops, never beside it. oneDNN reads
// the team size from omp_get_max_threads() of the calling thread - when a primitive is
// created (it splits the work then) and when it runs. ThreadTeam sets that to ember's
// num_threads() (--threads, EMBER_NUM_THREADS) for the scope of a call, and every cached
// plan is keyed by it, so a plan made for 2 threads never runs on 1.
//
// Note [oneDNN memory]
// Every buffer a primitive touches comes from ember's CPU allocator: the caller's tensors
// wrapped in place (no copy) where the primitive takes their layout, blocked copies made by
// cached reorders where it does not, and the scratchpad (scratchpad_mode::user: oneDNN asks
// for a size, ember's caching allocator hands out the bytes, so nothing is malloc'd per step
// and peak memory counts it).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/tensor.h"

namespace ember::nn::onednn {

dnnl::engine& cpu_engine();
dnnl::stream& cpu_stream();  // one per thread: a stream is not shared between threads

// Runs f() and turns a dnnl::error into an ember::Error naming the primitive and the
// problem (shape() is called only then): "oneDNN convolution forward input [64, 64, 32, 32],
// weight [...], ...: could not create a primitive descriptor (status 2)".
[[noreturn]] void throw_onednn_error(const char* primitive, const std::string& shape, const dnnl::error& e);

template <class F, class Shape>
auto checked(const char* primitive, const Shape& shape, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const dnnl::error& e) {
    throw_onednn_error(primitive, shape(), e);
  }
}

// True when creating a primitive failed because oneDNN has no implementation for it on this
// CPU (a dtype its ISA lacks, say): the caller then falls back to the reference layers.
inline bool is_unimplemented(const dnnl::error& e) { return e.status == dnnl_unimplemented; }

// Note [oneDNN threads].
class ThreadTeam {
 public:
  ThreadTeam();
  ~ThreadTeam();
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;
  int size() const { return size_; }

 private:
  int size_, previous_;
};

// The attributes every ember primitive is made with: scratchpad from the caller.
dnnl::primitive_attr user_scratchpad_attr();

// One primitive execution's memory (Note [oneDNN memory]): wraps tensors, makes the
// temporaries and the scratchpad, and keeps them alive until the stream has finished.
class Execution {
 public:
  // `t` in place, described by `desc` (its plain layout).
  dnnl::memory wrap(const dnnl::memory::desc& desc, const Tensor& t);
  // A new buffer of `desc`'s size from ember's allocator.
  dnnl::memory temporary(const dnnl::memory::desc& desc);
  // Runs `p` with `args` plus a scratchpad of `scratchpad`'s size when it has one.
  void run(const dnnl::primitive& p, std::unordered_map<int, dnnl::memory> args, const dnnl::memory::desc& scratchpad);

 private:
  std::vector<Tensor> keep_;  // temporaries and scratchpads in use by queued primitives
};

// Plain NCHW ([N, C, H, W] row-major), OIHW and 1-D descriptors of a tensor's sizes.
dnnl::memory::desc plain_desc(const Tensor& t);
dnnl::memory::data_type onednn_type(DType dtype);

}  // namespace ember::nn::onednn
