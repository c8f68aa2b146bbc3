// CUDA backend against the CPU backend: every op on fresh random inputs of awkward shapes
// (one element, odd sizes, non-contiguous views, empty), forward and backward, with every
// new CUDA allocation poisoned with NaN so an unwritten element fails.
//
// Tolerances: elementwise float ops use the shared rule, so they differ only by the device's
// libm (exp/log/pow within 2 ulp): atol 1e-6, rtol 1e-5. Reductions, GEMM and softmax sum in
// a different order than the CPU's double accumulators: atol 1e-5, rtol 1e-4.
#include <cmath>
#include <functional>

#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/backend.h"
#include "core/cuda_graph.h"
#include "core/ops.h"
#include "core/readback.h"
#include "tests/support/compare.h"
#include "tests/support/device_compare.h"
#include "tests/support/gpu_test.h"

namespace ember {
namespace {

using testing::all_close;
using V = std::vector<Tensor>;
using Op = std::function<Tensor(const V&)>;

class CudaVsCpu : public testing::GpuTest {
 protected:
  Tensor random(const Shape& shape, double low = -2, double high = 2, DType dtype = DType::Float32) {
    Generator g(seed_++);
    Tensor t = empty(shape, dtype);
    return uniform_(t, low, high, &g);
  }

  // Outputs and, for differentiable float ops, gradients (tests/support/device_compare.h).
  void check(const char* name, const Op& op, const V& inputs, double atol, double rtol, bool backward = true) {
    SCOPED_TRACE(name);
    testing::expect_cuda_matches_cpu(
        op, inputs, [&](const Tensor& got, const Tensor& want) { return all_close(got, want, atol, rtol); },
        backward, seed_++);
  }

  uint64_t seed_ = 1000;
};

const std::vector<Shape> kAwkward = {{1}, {3}, {255}, {1027}, {4 * 256 + 3}, {7, 13}, {2, 3, 5, 7}, {0, 4}};

TEST_F(CudaVsCpu, ElementwiseBinary) {
  for (const Shape& s : kAwkward) {
    Tensor a = random(s), b = random(s, 0.5, 2.0);
    check("add", [](const V& x) { return add(x[0], x[1], 0.3); }, {a, b}, 1e-6, 1e-5);
    check("sub", [](const V& x) { return x[0] - x[1]; }, {a, b}, 1e-6, 1e-5);
    check("mul", [](const V& x) { return x[0] * x[1]; }, {a, b}, 1e-6, 1e-5);
    check("div", [](const V& x) { return x[0] / x[1]; }, {a, b}, 1e-6, 1e-5);
    check("maximum", [](const V& x) { return maximum(x[0], x[1]); }, {a, b}, 1e-6, 1e-5);
    check("lt", [](const V& x) { return lt(x[0], x[1]); }, {a, b}, 0, 0, false);
    check("eq int64", [](const V& x) { return eq(x[0], x[1]); }, {a.to(DType::Int64), b.to(DType::Int64)}, 0, 0);
  }
}

TEST_F(CudaVsCpu, BroadcastingAndStridedOperands) {
  Tensor a = random({5, 1, 7}), b = random({3, 1}), m = random({9, 6});
  check("broadcast add", [](const V& x) { return x[0] + x[1]; }, {a, b}, 1e-6, 1e-5);
  check("broadcast mul", [](const V& x) { return x[0] * x[1]; }, {a, b}, 1e-6, 1e-5);
  check("transposed", [](const V& x) { return x[0].t() * 2.0 + x[0].t(); }, {m}, 1e-6, 1e-5);
  check("sliced", [](const V& x) { return x[0].slice(0, 1, 9, 2).slice(1, 0, 5, 3) + 1.0; }, {m}, 1e-6, 1e-5);
  check("scalar", [](const V& x) { return x[0] * x[1]; }, {random({}), random({4, 3})}, 1e-6, 1e-5);
}

TEST_F(CudaVsCpu, Unary) {
  for (const Shape& s : kAwkward) {
    Tensor a = random(s), p = random(s, 0.1, 3.0);
    check("exp", [](const V& x) { return exp(x[0]); }, {a}, 1e-6, 1e-5);
    check("log", [](const V& x) { return log(x[0]); }, {p}, 1e-6, 1e-5);
    check("sqrt", [](const V& x) { return sqrt(x[0]); }, {p}, 1e-6, 1e-5);
    check("pow", [](const V& x) { return pow(x[0], 1.5); }, {p}, 1e-6, 1e-5);
    check("relu", [](const V& x) { return relu(x[0]); }, {a}, 1e-6, 1e-5);
    check("abs neg square", [](const V& x) { return abs(-square(x[0])); }, {a}, 1e-6, 1e-5);
  }
}

TEST_F(CudaVsCpu, Reductions) {
  for (const Shape& s : {Shape{1}, Shape{1027}, Shape{7, 13}, Shape{3, 300, 5}, Shape{2, 3, 5, 7}}) {
    Tensor a = random(s);
    check("sum", [](const V& x) { return sum(x[0]); }, {a}, 1e-5, 1e-4);
    check("mean last", [](const V& x) { return mean(x[0], {-1}); }, {a}, 1e-5, 1e-4);
    check("sum first keepdim", [](const V& x) { return sum(x[0], {0}, true); }, {a}, 1e-5, 1e-4);
    check("max last", [](const V& x) { return max(x[0], -1).values; }, {a}, 0, 0);
    check("argmax first", [](const V& x) { return argmax(x[0], 0); }, {a}, 0, 0, false);
  }
  Tensor b = random({4, 6, 5});
  check("sum 0,2", [](const V& x) { return sum(x[0], {0, 2}); }, {b}, 1e-5, 1e-4);
  check("sum int64", [](const V& x) { return sum(x[0], {1}); }, {b.to(DType::Int64)}, 0, 0);
  check("max ties", [](const V& x) { return argmax(x[0], 1); }, {from_vector<float>({1, 3, 3, 2, NAN, 5}, {2, 3})}, 0, 0,
        false);
}

TEST_F(CudaVsCpu, Matmul) {
  check("2d", [](const V& x) { return matmul(x[0], x[1]); }, {random({7, 33}), random({33, 5})}, 1e-5, 1e-4);
  check("transposed", [](const V& x) { return matmul(x[1].t(), x[0].t()); }, {random({7, 33}), random({33, 5})}, 1e-5,
        1e-4);
  check("batched", [](const V& x) { return matmul(x[0], x[1]); }, {random({3, 4, 9}), random({3, 9, 2})}, 1e-5, 1e-4);
  check("broadcast", [](const V& x) { return matmul(x[0], x[1]); }, {random({3, 4, 9}), random({9, 2})}, 1e-5, 1e-4);
  check("1x1", [](const V& x) { return matmul(x[0], x[1]); }, {random({1, 1}), random({1, 1})}, 1e-6, 1e-5);
  check("double", [](const V& x) { return matmul(x[0], x[1]); },
        {random({5, 6}, -1, 1, DType::Float64), random({6, 7}, -1, 1, DType::Float64)}, 1e-12, 1e-12);
}

TEST_F(CudaVsCpu, SoftmaxAndCrossEntropy) {
  for (const Shape& s : {Shape{1, 1}, Shape{5, 10}, Shape{3, 1001}, Shape{257, 3}}) {
    Tensor x = random(s, -4, 4);
    check("log_softmax", [](const V& v) { return log_softmax(v[0], -1); }, {x}, 1e-5, 1e-4);
    check("log_softmax dim0", [](const V& v) { return log_softmax(v[0], 0); }, {x}, 1e-5, 1e-4);
    std::vector<int64_t> t;
    for (int64_t i = 0; i < s[0]; ++i) t.push_back((i * 7) % s[1]);
    Tensor targets = from_vector<int64_t>(t, {s[0]});
    for (double eps : {0.0, 0.1}) {
      check("cross_entropy", [&](const V& v) { return cross_entropy(v[0], v[1], eps); }, {x, targets}, 1e-5, 1e-4);
    }
    check("count_correct", [](const V& v) { return count_correct(v[0], v[1]); }, {x, targets}, 0, 0, false);
  }
}

TEST_F(CudaVsCpu, OutOfRangeTargetGivesNaNLossOnTheGpu) {
  Tensor x = random({2, 3}).to(Device::cuda());
  Tensor t = from_vector<int64_t>({0, 7}, {2}).to(Device::cuda());
  EXPECT_TRUE(std::isnan(cross_entropy(x, t).item()));
}

TEST_F(CudaVsCpu, RandomStreamsAreIdentical) {
  for (int64_t n : {1, 3, 4, 1023, (1 << 20) + 5}) {
    Generator a(99), b(99);
    Tensor cu = rand({n}, Device::cuda(), &a), cc = rand({n}, {}, &b);
    EXPECT_BIT_EQUAL(cu, cc) << "uniform n=" << n;
    Tensor nu = randn({n}, TensorOptions(Device::cuda()).dtype(DType::Float64), &a);
    Tensor nc = randn({n}, DType::Float64, &b);
    // Box-Muller in double: device and host libm agree to 2 ulp of double.
    EXPECT_TRUE(all_close(nu, nc, 1e-14, 1e-14)) << "normal n=" << n;
    Tensor fu = randn({n}, Device::cuda(), &a), fc = randn({n}, {}, &b);
    // Rounded once to float: equal except where double results straddle a float rounding point.
    EXPECT_TRUE(all_close(fu, fc, 0, 1.2e-7)) << "normal float n=" << n;
  }
}

TEST_F(CudaVsCpu, CopiesAcrossDevicesAndDtypes) {
  Tensor a = random({37, 5});
  Tensor g = a.to(Device::cuda());
  EXPECT_BIT_EQUAL(g, a);
  EXPECT_BIT_EQUAL(g.t().contiguous(), a.t().contiguous());
  EXPECT_BIT_EQUAL(g.to(DType::Int32), a.to(DType::Int32));
  Tensor dst = zeros({5, 37}, Device::cuda());
  dst.copy_(a.t());  // CPU strided source into a CUDA tensor
  EXPECT_BIT_EQUAL(dst, a.t().contiguous());
  Tensor host = zeros({37, 5});
  host.copy_(g);
  EXPECT_BIT_EQUAL(host, a);
  EXPECT_THROW(add(a, g), Error);
  EXPECT_EQ(arange(1027, TensorOptions(Device::cuda()).dtype(DType::Int64)).to_vector<int64_t>(),
            arange(1027).to_vector<int64_t>());
  EXPECT_EQ(full({3}, 2.5, Device::cuda()).to_vector<float>(), (std::vector<float>{2.5, 2.5, 2.5}));
}

TEST_F(CudaVsCpu, GradientsCrossDevices) {
  Tensor x = random({4}).set_requires_grad(true);
  sum(x.to(Device::cuda()) * 3.0).backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().device(), Device::cpu());
  EXPECT_EQ(x.grad().to_vector<float>(), std::vector<float>(4, 3.f));
}

TEST_F(CudaVsCpu, CachingAllocatorReusesMemoryAndCountsPeak) {
  Allocator& a = cuda_allocator(0);
  backend_for(Device::cuda()).synchronize();
  const AllocatorStats before = a.stats();
  for (int i = 0; i < 50; ++i) {
    Tensor t = empty({1 << 20}, Device::cuda());  // 4 MiB, freed each iteration
    t.fill_(1.0);
  }
  const AllocatorStats after = a.stats();
  EXPECT_EQ(after.current_bytes, before.current_bytes);
  EXPECT_GE(after.peak_bytes, before.current_bytes + (4 << 20));
  EXPECT_EQ(after.allocations, before.allocations + 50);
  // The pool grows at most once for this pattern: the freed block is reused.
  EXPECT_LE(after.backend_allocations - before.backend_allocations, 1);
}

}  // namespace
}  // namespace ember


namespace ember {
namespace {

TEST_F(CudaVsCpu, AsyncReadbackOfDeviceScalars) {
  AsyncReadback r;
  Tensor a = full({}, 3.0, Device::cuda()), b = sum(arange(4, TensorOptions(Device::cuda()).dtype(DType::Int64)));
  r.post({a, b});
  a.fill_(7.0);  // queued after the copy: must not show
  EXPECT_EQ(r.take(), (std::vector<double>{3.0, 6.0}));
}

}  // namespace
}  // namespace ember

// CudaGraph (core/cuda_graph.h): replays redo the captured work on the current inputs,
// memory freed while capturing stays valid for replays, and a synchronising call fails the
// capture with a clear error and leaves the stream usable.
namespace ember {
namespace {

using CudaGraphTest = testing::GpuTest;

TEST_F(CudaGraphTest, ReplayRecomputesFromTheCurrentInputs) {
  const Device gpu = Device::cuda();
  Tensor x = full({1001}, 1.0, gpu), y;
  CudaGraph graph;
  graph.capture([&] { y = (x * 2.0 + 1.0) * x; });  // a temporary freed inside the capture
  ASSERT_TRUE(graph.captured());
  EXPECT_GT(graph.pool_bytes(), 0);
  for (double v : {1.0, -3.0, 0.5}) {
    x.fill_(v);
    graph.replay();
    EXPECT_EQ(y.to_vector<float>(), std::vector<float>(1001, static_cast<float>((v * 2 + 1) * v)));
  }
}

TEST_F(CudaGraphTest, MemoryFreedWhileCapturingStaysValidForReplays) {
  const Device gpu = Device::cuda();
  Tensor x = full({4096}, 2.0, gpu);
  Tensor outside = x * 3.0;  // ordinary memory, last used and freed inside the capture
  Tensor y = empty({4096}, gpu);
  CudaGraph graph;
  graph.capture([&] {
    y.copy_(outside + 1.0);
    outside = Tensor();
  });
  // Reuse would show here: the freed block must not go back to the ordinary pool.
  std::vector<Tensor> others;
  for (int i = 0; i < 8; ++i) others.push_back(full({4096}, -5.0, gpu));
  graph.replay();
  EXPECT_EQ(y.to_vector<float>(), std::vector<float>(4096, 7.f));
}

TEST_F(CudaGraphTest, SynchronisingInsideACaptureFailsClearlyAndTheStreamRecovers) {
  const Device gpu = Device::cuda();
  Tensor x = full({8}, 1.0, gpu);
  CudaGraph graph;
  try {
    graph.capture([&] { (void)sum(x).item(); });
    FAIL() << "a host synchronisation was captured";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("capture"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(graph.captured());
  EXPECT_EQ(sum(x * 2.0).item(), 16.0);  // eager work runs again
}

TEST_F(CudaGraphTest, CaptureIsOnceAndReplayNeedsACapture) {
  CudaGraph graph;
  EXPECT_THROW(graph.replay(), Error);
  Tensor x = full({3}, 1.0, Device::cuda());
  graph.capture([&] { x.add_(x); });
  EXPECT_THROW(graph.capture([&] { x.add_(x); }), Error);
  graph.replay();
  graph.replay();
  EXPECT_EQ(x.to_vector<float>(), std::vector<float>(3, 4.f));
}

}  // namespace
}  // namespace ember

// bfloat16 on the GPU: the same rounding rule as the CPU, so casts and + - * relu agree bit
// for bit; exp goes through the device's expf (within 2 float ulp of the host's), which can
// flip one bfloat16 rounding: rtol 2^-7. Sums accumulate in float on the GPU and in double
// on the CPU before the one rounding: rtol 1e-2 (one bfloat16 ulp is 2^-8 relative).
namespace ember {
namespace {

using BFloat16Cuda = testing::GpuTest;

TEST_F(BFloat16Cuda, ElementwiseCastsAndSumsMatchTheCpu) {
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(4099)}) {
    SCOPED_TRACE(n);
    Generator g(n);
    Tensor fa = empty({n}), fb = empty({n});
    uniform_(fa, -3, 3, &g);
    uniform_(fb, -3, 3, &g);
    const Tensor a = fa.to(DType::BFloat16), b = fb.to(DType::BFloat16);
    const Tensor ga = fa.to(Device::cuda()).to(DType::BFloat16), gb = fb.to(Device::cuda()).to(DType::BFloat16);
    EXPECT_BIT_EQUAL(ga, a);  // the float -> bfloat16 rule on the device
    EXPECT_BIT_EQUAL(ga.to(DType::Float32), a.to(DType::Float32));
    EXPECT_BIT_EQUAL(ga + gb, a + b);
    EXPECT_BIT_EQUAL(ga * gb - gb, a * b - b);
    EXPECT_BIT_EQUAL(relu(ga), relu(a));
    EXPECT_ALL_CLOSE(exp(ga).to(DType::Float32), exp(a).to(DType::Float32), 0, 1.0 / 128);
    EXPECT_ALL_CLOSE(sum(ga).to(DType::Float32), sum(a).to(DType::Float32), 1e-2, 1e-2);
    Tensor ga2 = ga.view({1, n}).expand({3, n}).contiguous(), a2 = a.view({1, n}).expand({3, n}).contiguous();
    EXPECT_ALL_CLOSE(sum(ga2, {0}).to(DType::Float32), sum(a2, {0}).to(DType::Float32), 1e-2, 1e-2);
    EXPECT_ALL_CLOSE(sum(ga2, {1}).to(DType::Float32), sum(a2, {1}).to(DType::Float32), 1e-2, 1e-2);
  }
}

}  // namespace
}  // namespace ember
