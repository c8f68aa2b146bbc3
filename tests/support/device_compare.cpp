#include "tests/support/device_compare.h"

#include "core/generator.h"
#include "core/ops.h"

namespace ember::testing {

void expect_cuda_matches_cpu(const DeviceOp& op, const Inputs& inputs, const Closeness& close, bool backward,
                             uint64_t w_seed) {
  Inputs cpu_in, gpu_in;
  for (const Tensor& t : inputs) {
    Tensor c = t.clone(), g = t.to(Device::cuda());
    if (backward && is_floating(t.dtype())) {
      c.set_requires_grad(true);
      g.set_requires_grad(true);
    }
    cpu_in.push_back(c);
    gpu_in.push_back(g);
  }
  Tensor want = op(cpu_in), got = op(gpu_in);
  ASSERT_EQ(got.device(), Device::cuda());
  EXPECT_TRUE(close(got, want)) << "forward";
  if (!backward || !want.requires_grad() || want.numel() == 0) return;
  Generator gen(w_seed);
  Tensor w = empty(want.sizes(), want.dtype() == DType::Float64 ? DType::Float64 : DType::Float32);
  uniform_(w, 0.5, 1.5, &gen);
  w = w.to(want.dtype());  // bfloat16 outputs: rounded weights (random draws are float only)
  sum(want * w).backward();
  sum(got * w.to(Device::cuda())).backward();
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!cpu_in[i].grad().defined()) continue;
    ASSERT_TRUE(gpu_in[i].grad().defined()) << "input " << i;
    EXPECT_TRUE(close(gpu_in[i].grad(), cpu_in[i].grad())) << "gradient of input " << i;
  }
}

}  // namespace ember::testing
