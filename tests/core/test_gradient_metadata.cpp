// Note [gradient metadata] (core/autograd/node.h): every edge remembers its input's shape,
// dtype and device, and the engine refuses a gradient that differs, naming the op - for a
// gradient flowing into another op and into a leaf alike, and for backward()'s own argument.
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "core/autograd/node.h"
#include "core/ops.h"

namespace ember {
namespace {

// A backward formula that returns a fixed (wrong) gradient.
struct FixedGradientBackward final : Node {
  Tensor grad;
  std::vector<Tensor> apply(const Tensor&) override { return {grad}; }
  const char* name() const override { return "FixedGradientBackward"; }
};

// x's values, with a backward that hands `grad` to x.
Tensor with_backward_returning(const Tensor& x, const Tensor& grad) {
  Tensor out = x.detach().clone();
  auto node = std::make_shared<FixedGradientBackward>();
  node->grad = grad;
  attach_node(node, {&x}, out);
  return out;
}

// Host memory that says it is on cuda:0: a gradient "on another device" without a GPU. The
// engine must refuse it on its metadata alone, before any op reads its bytes.
class MislabelledAllocator final : public Allocator {
 public:
  DataPtr allocate(size_t nbytes) override { return DataPtr(std::malloc(nbytes + 1), [](void* p) { std::free(p); }); }
  Device device() const override { return Device::cuda(0); }
  AllocatorStats stats() const override { return {}; }
  void reset_peak() override {}
};

Tensor labelled_cuda(const Shape& shape) {
  static MislabelledAllocator allocator;
  auto storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * 4, allocator);
  return make_view(storage, DType::Float32, shape, contiguous_strides(shape), 0);
}

std::string backward_error(const Tensor& root) {
  try {
    root.backward();
  } catch (const Error& e) {
    return e.message();
  }
  return "no error";
}

TEST(GradientMetadata, AWrongGradientIsRefusedNamingTheOp) {
  const struct {
    const char* kind;
    Tensor grad;
    const char* got;
  } cases[] = {
      {"shape (broadcastable)", ones({3}), "float32 [3] on cpu"},
      {"shape (same numel)", ones({3, 2}), "float32 [3, 2] on cpu"},
      {"dtype", ones({2, 3}, DType::Float64), "float64 [2, 3] on cpu"},
      {"device", labelled_cuda({2, 3}), "float32 [2, 3] on cuda:0"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.kind);
    for (bool leaf : {false, true}) {
      SCOPED_TRACE(leaf ? "into a leaf" : "into another op");
      const Tensor x = zeros({2, 3}).set_requires_grad(true);
      const Tensor input = leaf ? x : x * 2.0;  // MulBackward, then the leaf
      const std::string message = backward_error(sum(with_backward_returning(input, c.grad)));
      EXPECT_EQ(message, std::string("autograd: FixedGradientBackward returned a gradient of ") + c.got +
                             " for its input 0, which is float32 [2, 3] on cpu (that op's backward is wrong)");
      EXPECT_FALSE(x.grad().defined());
    }
  }
}

TEST(GradientMetadata, TheRightGradientPasses) {
  const Tensor x = zeros({2, 3}).set_requires_grad(true);
  sum(with_backward_returning(x * 2.0, full({2, 3}, 0.5))).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), std::vector<float>(6, 1.0f));  // 0.5 through MulBackward's 2
}

TEST(GradientMetadata, EdgesRecordTheirInputs) {
  const Tensor a = zeros({4, 1}).set_requires_grad(true), b = zeros({3});
  const Tensor y = a + b;  // broadcasts to [4, 3]; only a needs a gradient
  ASSERT_EQ(y.grad_fn()->next_edges.size(), 2u);
  EXPECT_EQ(y.grad_fn()->next_edges[0].input.str(), "float32 [4, 1] on cpu");
  EXPECT_EQ(y.grad_fn()->next_edges[1].node, nullptr);
}

TEST(GradientMetadata, BackwardChecksItsGradientArgument) {
  const Tensor x = zeros({2, 3}).set_requires_grad(true);
  const Tensor y = x * 2.0;
  EXPECT_THROW(y.backward(ones({3})), Error);
  EXPECT_THROW(y.backward(ones({2, 3}, DType::Float64)), Error);
  EXPECT_THROW(y.backward(labelled_cuda({2, 3})), Error);
  y.backward(ones({2, 3}));
  EXPECT_EQ(x.grad().to_vector<float>(), std::vector<float>(6, 2.0f));
}

}  // namespace
}  // namespace ember
