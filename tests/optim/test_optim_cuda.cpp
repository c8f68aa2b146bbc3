// The CUDA executor against the CPU executor: the fused step kernel on parameters of awkward
// lengths (1, 3, 1023, 4*256+3, 2^20+5) in three groups with their own hyperparameters and a
// frozen parameter between them, every element-wise optimiser and state layout, 31 steps of
// random gradients; the capturable mode; the gradient norm and clipping; a run that moves
// between devices through state_dict. (Adafactor, Muon and hybrids: test_optim_cuda_matrix.cpp.)
//
// Tolerances: the step kernel is compiled without FMA contraction (Note [bit-identical
// steps] in optim/CMakeLists.txt), so it performs the CPU loop's IEEE operations exactly and
// the comparison is bit for bit. The gradient norm sums in another order (double on both):
// rtol 1e-6 covers the float rounding of the result.
#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "optim/optimizer.h"
#include "tests/support/compare.h"
#include "tests/support/gpu_test.h"

namespace ember {
namespace {

using optim::FlatParameters;
using testing::all_close;
using testing::bit_equal;

class OptimCuda : public testing::GpuTest {};

// Parameters of awkward lengths in groups g0 (no prefix), g1., g2., with a frozen one in
// the middle of group 0; copies on the CPU and on the GPU.
optim::NamedParameters make_params(uint64_t seed, Device device) {
  const std::vector<std::pair<std::string, int64_t>> sizes = {{"a", 1},
                                                              {"b", 1023},
                                                              {"frozen", 37},
                                                              {"c", 3},
                                                              {"g1.big", (1 << 20) + 5},
                                                              {"g1.odd", 4 * 256 + 3},
                                                              {"g2.one", 1},
                                                              {"g2.tail", 4 * 256 + 3}};
  optim::NamedParameters named;
  for (const auto& [name, n] : sizes) {
    Generator g(seed++);
    Tensor t = empty({n});
    uniform_(t, -2, 2, &g);
    t = t.to(device);
    t.set_requires_grad(name != "frozen");
    named.emplace_back(name, t);
  }
  return named;
}

const optim::GroupFn kGroups = optim::group_by_prefix({"g1.", "g2."});

// The same random gradients (zero for the frozen parameter, and all zeros at step 5) in both.
void set_gradients(FlatParameters& cpu, FlatParameters& gpu, int step) {
  for (const optim::FlatEntry& e : cpu.entries()) {
    if (!e.trainable) continue;
    Generator g(9000 + 131 * step + e.offset);
    Tensor grad = empty(e.param.sizes());
    uniform_(grad, -1, 1, &g);
    if (step == 5) grad.zero_();
    NoGradGuard no_grad;
    e.param.grad().copy_(grad);
    gpu.entry(e.name).param.grad().copy_(grad);
  }
}

// Every algorithm and every state layout, with options that differ between groups.
const std::vector<std::pair<std::string, std::vector<std::string>>> kSpecs = {
    {"sgd:lr=0.05", {"weight_decay=0.01", "maximize=true"}},
    {"sgd:lr=0.05,momentum=0.9,dampening=0.2", {"momentum=0", "weight_decay=0.1"}},
    {"nag:lr=0.02", {"lr=0.1", "momentum=0.5,maximize=true"}},
    {"rmsprop:lr=0.01", {"weight_decay=0.05", "alpha=0.5"}},
    {"rmsprop:lr=0.01,momentum=0.5", {"momentum=0", "maximize=true"}},
    {"rmsprop:lr=0.01,centered=true", {"centered=false", "alpha=0.3"}},
    {"rmsprop:lr=0.003,momentum=0.9,centered=true,weight_decay=0.01", {"lr=0.01", "momentum=0.1"}},
    {"adagrad:lr=0.05,initial_accumulator_value=0.1", {"lr_decay=0.1", "initial_accumulator_value=0,maximize=true"}},
    {"adadelta", {"rho=0.5", "weight_decay=0.1,maximize=true"}},
    {"adam:lr=0.01", {"weight_decay=0.1", "beta1=0.3,maximize=true"}},
    {"adam:lr=0.01,amsgrad=true", {"amsgrad=false", "weight_decay=0.05"}},
    {"adamw:lr=0.01", {"weight_decay=0", "amsgrad=true,lr=0.001"}},
    {"nadam:lr=0.01", {"decoupled_weight_decay=true,weight_decay=0.1", "momentum_decay=0.1,maximize=true"}},
    {"radam:lr=0.01", {"beta2=0.9", "weight_decay=0.05,decoupled_weight_decay=true"}},
    {"adamax:lr=0.01", {"eps=0.001", "weight_decay=0.1,maximize=true"}},
    {"asgd:lr=0.05,t0=5", {"lambd=0.1", "alpha=1.5,weight_decay=0.05"}},
    {"rprop:lr=0.05", {"step_size_max=0.06", "eta_minus=0.3,eta_plus=2,maximize=true"}},
    {"lion:lr=0.01", {"weight_decay=0.1", "beta1=0.5,beta2=0.8,maximize=true"}},
    {"sfadamw:lr=0.01,warmup_steps=5", {"weight_decay=0.1", "beta1=0.3,r=1"}},
    {"sfsgd:lr=0.05", {"momentum=0.5,weight_decay=0.01", "weight_lr_power=0,warmup_steps=3"}},
};

TEST_F(OptimCuda, FusedStepEqualsTheCpuStepBitForBit) {
  for (const auto& [spec, group_options] : kSpecs) {
    SCOPED_TRACE(spec);
    FlatParameters cpu(make_params(1, Device::cpu()), Device::cpu(), kGroups);
    FlatParameters gpu(make_params(1, Device::cpu()), Device::cuda(), kGroups);
    ASSERT_EQ(gpu.segments().size(), cpu.segments().size());
    auto cpu_opt = optim::make_optimizer(spec, cpu), gpu_opt = optim::make_optimizer(spec, gpu);
    for (int g = 1; g <= 2; ++g) {
      cpu_opt->configure_group(g, group_options[g - 1]);
      gpu_opt->configure_group(g, group_options[g - 1]);
    }
    const Tensor frozen0 = gpu.entry("frozen").param.to(Device::cpu());
    for (int t = 0; t < 31; ++t) {
      set_gradients(cpu, gpu, t);
      cpu_opt->step();
      gpu_opt->step();
    }
    ASSERT_EQ(gpu.values().device(), Device::cuda());
    EXPECT_TRUE(bit_equal(gpu.values(), cpu.values()));
    for (const std::string& name : cpu_opt->state_names())
      EXPECT_TRUE(bit_equal(gpu_opt->state(name), cpu_opt->state(name))) << name;
    EXPECT_TRUE(bit_equal(gpu.entry("frozen").param, frozen0));
    // Padding and the frozen region of the states: exactly zero.
    std::vector<bool> inside(static_cast<size_t>(gpu.padded_numel()), false);
    for (const optim::FlatEntry& e : gpu.entries())
      for (int64_t i = e.offset; i < e.offset + e.numel; ++i) inside[i] = true;
    const std::vector<float> values = gpu.values().to_vector<float>();
    int64_t nonzero_padding = 0;
    for (size_t i = 0; i < values.size(); ++i) nonzero_padding += !inside[i] && values[i] != 0.0f;
    EXPECT_EQ(nonzero_padding, 0);
    for (const std::string& name : gpu_opt->state_names()) {
      const std::vector<float> s = gpu_opt->state(name).to_vector<float>();
      int64_t outside = 0;
      for (const optim::FlatEntry& e : gpu.entries())
        for (int64_t i = e.offset; i < e.offset + e.numel; ++i) outside += !e.trainable && s[i] != 0.0f;
      for (size_t i = 0; i < s.size(); ++i) outside += !inside[i] && s[i] != 0.0f;
      EXPECT_EQ(outside, 0) << name;
    }
  }
}

// Schedule-Free's eval() on the GPU against the CPU's: the steps are bit for bit (above); the
// move to x is three core ops per tensor (z - p, then p + w (z - p) or its other
// form), which the GPU's elementwise kernels may contract into an FMA: one float32 rounding
// apart per element, so rtol 1e-6 (8 ulps) with atol 1e-7 for values near zero. The capturable
// mode keeps the weight sums on the device and steps as the host mode does.
TEST_F(OptimCuda, ScheduleFreeSwitchAndCapturableMatchTheCpu) {
  for (const char* spec : {"sfadamw:lr=0.01,weight_decay=0.05", "sfsgd:lr=0.05,momentum=0.3"}) {
    SCOPED_TRACE(spec);
    FlatParameters cpu(make_params(3, Device::cpu()), Device::cpu(), kGroups);
    FlatParameters gpu(make_params(3, Device::cpu()), Device::cuda(), kGroups);
    FlatParameters graph(make_params(3, Device::cpu()), Device::cuda(), kGroups);
    auto cpu_opt = optim::make_optimizer(spec, cpu), gpu_opt = optim::make_optimizer(spec, gpu);
    auto cap_opt = optim::make_optimizer(std::string(spec) + ",capturable=true", graph);
    for (int t = 0; t < 9; ++t) {
      set_gradients(cpu, gpu, t);
      {
        NoGradGuard no_grad;
        graph.grads().copy_(gpu.grads());
      }
      cpu_opt->step();
      gpu_opt->step();
      cap_opt->step();
    }
    EXPECT_TRUE(bit_equal(graph.values(), gpu.values()));
    const Tensor y = gpu.values().clone();
    cpu_opt->eval();
    gpu_opt->eval();
    EXPECT_TRUE(all_close(gpu.values(), cpu.values(), 1e-7, 1e-6));
    cpu_opt->train();
    gpu_opt->train();
    EXPECT_TRUE(bit_equal(gpu.values(), y));  // train() restores the y that eval() kept
  }
}

// The 8-bit step (kernels/optim_blockwise8.cu: one thread block per 256-element block, the
// absmax by a block reduction) against the CPU executor, bit for bit: g1.big (2^20 + 5
// elements, 4,097 blocks, the last of 5) has 8-bit state, the others 32-bit; parameters and
// every state-dict tensor (bytes, absmax, small parameters' float32 state) compared.
TEST_F(OptimCuda, Blockwise8StepEqualsTheCpuStepBitForBit) {
  const std::vector<std::pair<std::string, std::string>> specs = {
      {"adam8bit:lr=0.01", "weight_decay=0.1,maximize=true"},
      {"adamw8bit:lr=0.01", "beta1=0.5"},
      {"sgd8bit:lr=0.05,momentum=0.9", "nesterov=true,dampening=0"},
      {"lion8bit:lr=0.01", "weight_decay=0.1"}};
  for (const auto& [spec, group1] : specs) {
    SCOPED_TRACE(spec);
    FlatParameters cpu(make_params(1, Device::cpu()), Device::cpu(), kGroups);
    FlatParameters gpu(make_params(1, Device::cpu()), Device::cuda(), kGroups);
    auto cpu_opt = optim::make_optimizer(spec, cpu), gpu_opt = optim::make_optimizer(spec, gpu);
    cpu_opt->configure_group(1, group1);
    gpu_opt->configure_group(1, group1);
    for (int t = 0; t < 7; ++t) {
      set_gradients(cpu, gpu, t);
      cpu_opt->step();
      gpu_opt->step();
    }
    EXPECT_TRUE(bit_equal(gpu.values(), cpu.values()));
    const optim::StateDict c = cpu_opt->state_dict(), g = gpu_opt->state_dict();
    ASSERT_EQ(c.tensors.size(), g.tensors.size());
    for (const auto& [name, t] : c.tensors) EXPECT_TRUE(bit_equal(g.tensors.at(name), t)) << name;
  }
}

// Capturable 8-bit steps: step count and learning rates read by each block from device memory
// (an lr change after step 3), the count advanced once per step. Tolerance: the device's pow
// may round a bias correction one float ulp apart from the host's, which can move an element's
// state to the neighbouring map entry (a change of at most a few percent of one step of
// lr = 0.01); 5e-4 over 7 steps passes that and fails a wrong step count or lr (each changes
// every step by 10% or more).
TEST_F(OptimCuda, Blockwise8CapturableReadsStepAndLrOnTheDevice) {
  for (const std::string spec : {"adam8bit:lr=0.01", "sgd8bit:lr=0.01,momentum=0.9", "lion8bit:lr=0.01"}) {
    SCOPED_TRACE(spec);
    FlatParameters cpu(make_params(1, Device::cpu()), Device::cpu(), kGroups);
    FlatParameters gpu(make_params(1, Device::cpu()), Device::cuda(), kGroups);
    auto host = optim::make_optimizer(spec, cpu);
    auto device = optim::make_optimizer(spec + ",capturable=true", gpu);
    for (int t = 0; t < 7; ++t) {
      if (t == 3) host->set_lr(1, 0.003), device->set_lr(1, 0.003);
      set_gradients(cpu, gpu, t);
      host->step();
      device->step();
    }
    EXPECT_EQ(device->step_count(), 7);
    EXPECT_EQ(device->step_tensor().to_vector<int64_t>()[1], 0);  // completion counter reset
    EXPECT_TRUE(all_close(gpu.values(), cpu.values(), 5e-4, 0));
  }
}

TEST_F(OptimCuda, CapturableModeReadsStepAndLrOnTheDevice) {
  for (const std::string spec : {"adam:lr=0.01,amsgrad=true", "adagrad:lr_decay=0.1", "sgd:lr=0.1,momentum=0.9",
                                 "nadam:lr=0.01", "asgd:lr=0.05,t0=4", "rprop:lr=0.05", "radam:lr=0.01"}) {
    SCOPED_TRACE(spec);
    FlatParameters cpu(make_params(3, Device::cpu()), Device::cpu(), kGroups);
    FlatParameters gpu(make_params(3, Device::cpu()), Device::cuda(), kGroups);
    auto host = optim::make_optimizer(spec, cpu);
    auto device = optim::make_optimizer(spec + ",capturable=true", gpu);
    for (int t = 0; t < 20; ++t) {
      if (t == 7) host->set_lr(2, 0.003), device->set_lr(2, 0.003);
      set_gradients(cpu, gpu, t);
      host->step();
      device->step();
    }
    EXPECT_EQ(device->step_count(), 20);
    EXPECT_EQ(device->step_tensor().to_vector<int64_t>()[1], 0);  // completion counter reset
    // Per-step scalars come from the device's pow instead of the host's: equal to within the
    // float rounding of one bias correction (the group scalars - NAdam's mu_product, ASGD's
    // eta and mu - are float32 values on both).
    EXPECT_TRUE(all_close(gpu.values(), cpu.values(), 1e-6, 1e-5));
  }
}

TEST_F(OptimCuda, GradNormAndClippingMatchTheCpu) {
  for (int64_t n : {int64_t(1), int64_t(3), int64_t(1023), int64_t(4 * 256 + 3), int64_t((1 << 20) + 5)}) {
    SCOPED_TRACE(n);
    Generator gen(n);
    Tensor a = empty({n}), b = empty({5});
    uniform_(a, -1, 1, &gen);
    uniform_(b, -1, 1, &gen);
    auto named = [&](Device d) {
      Tensor x = zeros({n}).to(d), y = zeros({5}).to(d);
      x.set_requires_grad(true), y.set_requires_grad(true);
      return optim::NamedParameters{{"x", x}, {"y", y}};
    };
    FlatParameters cpu(named(Device::cpu()), Device::cpu()), gpu(named(Device::cuda()), Device::cuda());
    for (FlatParameters* f : {&cpu, &gpu}) {
      NoGradGuard no_grad;
      f->entry("x").param.grad().copy_(a);
      f->entry("y").param.grad().copy_(b);
    }
    const Tensor norm = gpu.grad_norm();
    EXPECT_EQ(norm.device(), Device::cuda());
    EXPECT_TRUE(all_close(norm, cpu.grad_norm(), 0, 1e-6));
    const double max_norm = 0.25 * cpu.grad_norm().item();
    EXPECT_TRUE(all_close(gpu.clip_grad_norm(max_norm), cpu.clip_grad_norm(max_norm), 0, 1e-6));
    EXPECT_TRUE(all_close(gpu.grads(), cpu.grads(), 1e-7, 1e-5));
    // Twice in a row: the completion counter was reset by the first reduction.
    EXPECT_TRUE(all_close(gpu.grad_norm(), cpu.grad_norm(), 0, 1e-6));
  }
}

TEST_F(OptimCuda, ARunMovesBetweenDevicesThroughStateDict) {
  // 12 steps on the GPU, then the CPU from the saved state: the same bits as 25 CPU steps.
  FlatParameters ref(make_params(5, Device::cpu()), Device::cpu(), kGroups);
  FlatParameters gpu(make_params(5, Device::cpu()), Device::cuda(), kGroups);
  auto ref_opt = optim::make_optimizer("adamw:lr=0.01,amsgrad=true", ref);
  auto gpu_opt = optim::make_optimizer("adamw:lr=0.01,amsgrad=true", gpu);
  for (int t = 0; t < 12; ++t) {
    set_gradients(ref, gpu, t);
    ref_opt->step();
    gpu_opt->step();
  }
  optim::NamedParameters moved;
  for (const optim::FlatEntry& e : gpu.entries()) {
    Tensor p = e.param.to(Device::cpu()).detach().clone();
    p.set_requires_grad(e.trainable);
    moved.emplace_back(e.name, p);
  }
  FlatParameters cpu(moved, Device::cpu(), kGroups);
  auto cpu_opt = optim::make_optimizer("adamw:lr=0.01,amsgrad=true", cpu);
  cpu_opt->load_state_dict(gpu_opt->state_dict());
  for (int t = 12; t < 25; ++t) {
    set_gradients(ref, cpu, t);
    ref_opt->step();
    cpu_opt->step();
  }
  EXPECT_TRUE(bit_equal(cpu.values(), ref.values()));
}

}  // namespace
}  // namespace ember
