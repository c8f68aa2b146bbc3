// The CUDA executors of Adafactor (kernels/optim_adafactor.cu) and Muon (kernels/optim_muon.cu
// with cuBLAS strided-batched bfloat16 GEMMs) and of hybrids against the CPU executors: a
// ResNet-like set of shapes in two groups with a frozen parameter, 15 steps; capturable mode.
//
// Tolerances. Adafactor: the same rules in float32, but the per-chunk sums of squares are
// added in another order (a block's tree here, a loop there), so a norm may round to the
// neighbouring float; that changes a step by about 1e-7 relative: rtol 1e-5, atol 1e-6 over
// 15 steps. Muon: cuBLAS sums the bfloat16 products in float in its own order (tensor cores)
// and OpenBLAS in another, so elements of the bfloat16 update may round to the neighbouring
// value (2^-8 relative) and a flip spreads through the later iterations: the GPU's parameters
// must stay within 0.1 of one step's largest change per step (on the CPU, against the float64
// transcription, no flip was seen in 10 steps: test_muon.cpp). The element-wise part of a
// hybrid is bit for bit.
#include <gtest/gtest.h>

#include <cmath>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "optim/optimizer.h"
#include "tests/support/compare.h"
#include "tests/support/gpu_test.h"

namespace ember {
namespace {

using optim::FlatParameters;

class OptimCudaMatrix : public testing::GpuTest {};

optim::NamedParameters make_params(uint64_t seed) {
  const std::vector<std::pair<std::string, Shape>> shapes = {
      {"conv1", {16, 3, 7, 7}}, {"bn1", {16}},       {"conv2", {32, 16, 3, 3}}, {"frozen", {5, 5}},
      {"conv3", {32, 16, 3, 3}}, {"down", {64, 16, 1, 1}}, {"g1.conv", {32, 32, 3, 3}}, {"g1.big", {300, 40, 3, 3}},
      {"g1.bias", {1023}},        {"fc.weight", {10, 64}},  {"fc.bias", {10}}};
  optim::NamedParameters named;
  for (const auto& [name, shape] : shapes) {
    Generator g(seed++);
    Tensor t = empty(shape);
    uniform_(t, -0.5, 0.5, &g);
    t.set_requires_grad(name != "frozen");
    named.emplace_back(name, t);
  }
  return named;
}

void set_gradients(FlatParameters& cpu, FlatParameters& gpu, int step) {
  for (const optim::FlatEntry& e : cpu.entries()) {
    if (!e.trainable) continue;
    Generator g(7000 + 131 * step + e.offset);
    Tensor grad = empty(e.param.sizes());
    uniform_(grad, -1, 1, &g);
    if (step == 4) grad.zero_();
    NoGradGuard no_grad;
    Tensor(e.param.grad()).copy_(grad);
    Tensor(gpu.entry(e.name).param.grad()).copy_(grad);
  }
}

// Runs `spec` (group 1: "g1." names, configured with `group1`) 15 steps on both devices and
// returns the largest difference of each parameter over its largest single-step change.
void compare(const std::string& spec, const std::string& group1, int part1, double atol, double rtol, bool muon) {
  SCOPED_TRACE(spec);
  const optim::GroupFn groups = optim::group_by_prefix({"g1."});
  FlatParameters cpu(make_params(1), Device::cpu(), groups), gpu(make_params(1), Device::cuda(), groups);
  auto cpu_opt = optim::make_optimizer(spec, cpu), gpu_opt = optim::make_optimizer(spec, gpu);
  cpu_opt->configure_group(1, group1, part1);
  gpu_opt->configure_group(1, group1, part1);
  std::map<std::string, double> largest_step, largest_diff;
  for (int t = 0; t < 15; ++t) {
    const Tensor before = cpu.values().clone();
    set_gradients(cpu, gpu, t);
    cpu_opt->step();
    gpu_opt->step();
    const std::vector<float> a = cpu.values().to_vector<float>(), b = gpu.values().to_vector<float>(),
                             was = before.to_vector<float>();
    for (const optim::FlatEntry& e : cpu.entries())
      for (int64_t i = e.offset; i < e.offset + e.numel; ++i) {
        largest_step[e.name] = std::max(largest_step[e.name], double(std::fabs(a[i] - was[i])));
        largest_diff[e.name] = std::max(largest_diff[e.name], double(std::fabs(a[i] - b[i])));
      }
  }
  for (const optim::FlatEntry* e : gpu_opt->part_parameters(0)) {
    if (muon) {
      EXPECT_LE(largest_diff[e->name], 0.1 * 15 * largest_step[e->name]) << e->name;
    } else {
      EXPECT_TRUE(testing::all_close(gpu.entry(e->name).param, cpu.entry(e->name).param, atol, rtol)) << e->name;
    }
  }
  if (gpu_opt->num_parts() > 1) {
    for (const optim::FlatEntry* e : gpu_opt->part_parameters(1)) {
      EXPECT_TRUE(testing::bit_equal(gpu.entry(e->name).param, cpu.entry(e->name).param)) << e->name;
    }
  }
  EXPECT_EQ(largest_step["frozen"], 0.0);
  EXPECT_TRUE(testing::bit_equal(gpu.entry("frozen").param, cpu.entry("frozen").param));
}

TEST_F(OptimCudaMatrix, AdafactorMatchesTheCpu) {
  compare("adafactor", "lr=0.003,d=2", 0, 1e-6, 1e-5, false);
  compare("adafactor:weight_decay=0.1,maximize=true,eps1=1e-4", "beta2_decay=-0.5", 0, 1e-6, 1e-5, false);
}

TEST_F(OptimCudaMatrix, MuonMatchesTheCpuToBfloat16Rounding) {
  compare("muon:lr=0.02", "ns_steps=3,momentum=0.9", 0, 0, 0, true);
  compare("muon:lr=0.02,adjust_lr_fn=match_rms_adamw+nadam:lr=0.01", "lr=0.001", 1, 0, 0, true);
}

TEST_F(OptimCudaMatrix, ElementwiseHybridIsBitForBit) {
  compare("adam:lr=0.01+rprop:lr=0.05", "lr=0.003", 0, 0, 0, false);
}

TEST_F(OptimCudaMatrix, CapturableModeMatchesHostMode) {
  for (const std::string spec : {"adafactor:lr=0.01", "muon:lr=0.02+adamw:lr=0.003"}) {
    SCOPED_TRACE(spec);
    FlatParameters host(make_params(2), Device::cuda()), device(make_params(2), Device::cuda());
    auto a = optim::make_optimizer(spec, host), b = optim::make_optimizer(spec + ",capturable=true", device);
    for (int t = 0; t < 10; ++t) {
      if (t == 6) a->set_lr(0.004), b->set_lr(0.004);
      set_gradients(host, device, t);
      a->step();
      b->step();
    }
    EXPECT_EQ(b->step_count(), 10);
    // The same kernels on the same device; only the per-step scalars come from device memory.
    EXPECT_TRUE(testing::all_close(device.values(), host.values(), 1e-7, 1e-6));
  }
}

}  // namespace
}  // namespace ember
