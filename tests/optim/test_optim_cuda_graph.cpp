// A capturable optimiser step captured once in a CUDA graph and replayed: each replay must
// use the next step count (bias corrections) and the current learning rate, exactly like
// eager steps - also with gradient clipping (the norm reduction's completion counter and
// partials, and the clip reading the norm on the device) inside the captured step. CUDA builds
// only (it calls the CUDA runtime directly). Exact: replays run the eager steps' kernels on the
// same values.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/cuda_graph.h"
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/ops.h"
#include "optim/optimizer.h"
#include "tests/support/compare.h"
#include "tests/support/gpu_test.h"

namespace ember {
namespace {

class OptimCudaGraph : public testing::GpuTest {};

optim::NamedParameters params(uint64_t seed) {
  optim::NamedParameters named;
  for (int64_t n : {int64_t(7), int64_t(4097), int64_t(1)}) {
    Generator g(seed++);
    Tensor t = empty({n});
    uniform_(t, -1, 1, &g);
    t.set_requires_grad(true);
    named.emplace_back("p" + std::to_string(n), t);
  }
  return named;
}

TEST_F(OptimCudaGraph, AReplayedStepEqualsAnEagerStep) {
  for (const std::string spec : {"adam:lr=0.01,capturable=true", "adagrad:lr_decay=0.1,capturable=true"}) {
    SCOPED_TRACE(spec);
    optim::FlatParameters eager(params(1), Device::cuda()), graphed(params(1), Device::cuda());
    auto a = optim::make_optimizer(spec, eager), b = optim::make_optimizer(spec, graphed);
    const cudaStream_t stream = cuda::stream();
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    EMBER_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    b->step();
    EMBER_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    EMBER_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    EXPECT_EQ(b->step_count(), 0);  // capturing does not run the step
    for (int t = 0; t < 12; ++t) {
      if (t == 5) {
        a->set_lr(0.002);
        b->set_lr(0.002);  // written to the device: the next replay reads it
      }
      Generator g(100 + t);
      Tensor grad = empty({eager.padded_numel()});
      uniform_(grad, -1, 1, &g);
      for (const optim::FlatEntry& e : eager.entries()) {
        NoGradGuard no_grad;
        e.param.grad().copy_(grad.slice(0, 0, e.numel));
        graphed.entry(e.name).param.grad().copy_(grad.slice(0, 0, e.numel));
      }
      a->step();
      EMBER_CUDA_CHECK(cudaGraphLaunch(exec, stream));
    }
    EMBER_CUDA_CHECK(cudaStreamSynchronize(stream));
    EXPECT_EQ(b->step_count(), 12);
    EXPECT_TRUE(testing::bit_equal(graphed.values(), eager.values()));
    EMBER_CUDA_CHECK(cudaGraphExecDestroy(exec));
    EMBER_CUDA_CHECK(cudaGraphDestroy(graph));
  }
}

// The same random gradients into both flat buffers (and a static copy for the graph).
void set_gradients(optim::FlatParameters& a, optim::FlatParameters& b, int t) {
  Generator g(300 + t);
  Tensor grad = empty({a.padded_numel()});
  uniform_(grad, -1, 1, &g);
  grad.mul_(t % 3 == 0 ? 10.0 : 0.1);  // some steps are clipped, some are not
  NoGradGuard no_grad;
  for (const optim::FlatEntry& e : a.entries()) {
    Tensor(e.param.grad()).copy_(grad.slice(0, e.offset, e.offset + e.numel));
    Tensor(b.entry(e.name).param.grad()).copy_(grad.slice(0, e.offset, e.offset + e.numel));
  }
}

TEST_F(OptimCudaGraph, ClippingInsideACapturedStepWithSetLrBetweenReplays) {
  for (const std::string spec : {"adamw:lr=0.01,capturable=true", "sgd:lr=0.1,momentum=0.9,capturable=true"}) {
    SCOPED_TRACE(spec);
    optim::FlatParameters eager(params(5), Device::cuda()), graphed(params(5), Device::cuda());
    auto a = optim::make_optimizer(spec, eager), b = optim::make_optimizer(spec, graphed);
    const double max_norm = 2.0;
    // One eager step each first: the norm's workspace is allocated outside the capture.
    set_gradients(eager, graphed, 0);
    eager.clip_grad_norm(max_norm);
    a->step();
    graphed.clip_grad_norm(max_norm);
    b->step();
    Tensor norm;
    CudaGraph graph;
    graph.capture([&] {
      norm = graphed.clip_grad_norm(max_norm);
      b->step();
    });
    for (int t = 1; t < 12; ++t) {
      SCOPED_TRACE(t);
      if (t == 6) {
        a->set_lr(0.003);
        b->set_lr(0.003);  // written to the device: the next replay reads it
      }
      set_gradients(eager, graphed, t);
      const Tensor want_norm = eager.clip_grad_norm(max_norm);
      a->step();
      graph.replay();
      EXPECT_TRUE(testing::bit_equal(norm, want_norm)) << "the norm before clipping";
      EXPECT_TRUE(testing::bit_equal(graphed.grads(), eager.grads())) << "clipped gradients";
    }
    EXPECT_EQ(b->step_count(), 12);
    EXPECT_TRUE(testing::bit_equal(graphed.values(), eager.values()));
    for (const std::string& name : a->state_names()) EXPECT_TRUE(testing::bit_equal(b->state(name), a->state(name)));
  }
}

}  // namespace
}  // namespace ember
