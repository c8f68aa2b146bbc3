// Tensor basics: factories, metadata, views and aliasing, copies, printing, errors.
#include <gtest/gtest.h>

#include "core/autograd/grad_mode.h"
#include "core/ops.h"
#include "core/readback.h"
#include "tests/support/compare.h"

namespace ember {
namespace {

TEST(Tensor, FactoriesHaveShapeDtypeAndValues) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.sizes(), (Shape{2, 3}));
  EXPECT_EQ(z.strides(), (Shape{3, 1}));
  EXPECT_EQ(z.dtype(), DType::Float32);
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.to_vector<float>(), std::vector<float>(6, 0.f));
  EXPECT_EQ(ones({4}, DType::Int32).to_vector<int32_t>(), std::vector<int32_t>(4, 1));
  EXPECT_EQ(full({2}, 2.5, DType::Float64).to_vector<double>(), (std::vector<double>{2.5, 2.5}));
  EXPECT_EQ(arange(5).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(1.0, 2.0, 0.25, DType::Float32).to_vector<float>(), (std::vector<float>{1, 1.25, 1.5, 1.75}));
  EXPECT_EQ(arange(3.0, 1.0, 1.0).numel(), 0);
  EXPECT_EQ(scalar_tensor(7.0).dim(), 0);
  EXPECT_DOUBLE_EQ(scalar_tensor(7.0).item(), 7.0);
}

TEST(Tensor, EmptyAndOneElementTensors) {
  Tensor e = zeros({0, 5});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_TRUE(e.is_contiguous());
  EXPECT_EQ(e.clone().numel(), 0);
  EXPECT_EQ(sum(e).item(), 0.0);
  EXPECT_EQ((e + e).sizes(), (Shape{0, 5}));
  Tensor one = from_vector<float>({3.f}, {1, 1, 1});
  EXPECT_EQ(one.item<float>(), 3.f);
  EXPECT_THROW(zeros({2}).item(), Error);
}

TEST(Tensor, FromVectorChecksCountAndConverts) {
  EXPECT_THROW(from_vector<float>({1, 2, 3}, {2, 2}), Error);
  Tensor t = from_vector<int64_t>({1, 2, 3}, {3}, DType::Float32);
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3}));
}

TEST(Tensor, ViewsShareStorage) {
  Tensor a = arange(0.0, 12.0, 1.0, DType::Float32);
  Tensor v = a.view({3, 4});
  EXPECT_EQ(v.storage(), a.storage());
  {
    NoGradGuard no_grad;
    v.select(0, 1).fill_(-1.0);  // row 1 of the view is a[4..8)
  }
  std::vector<float> got = a.to_vector<float>();
  for (int i = 0; i < 12; ++i) EXPECT_EQ(got[i], (i >= 4 && i < 8) ? -1.f : float(i)) << i;
  EXPECT_EQ(v.view({-1, 6}).sizes(), (Shape{2, 6}));
  EXPECT_THROW(v.view({5, -1}), Error);
  EXPECT_THROW(v.view({-1, -1}), Error);
}

TEST(Tensor, TransposeAndPermuteAreStridedViews) {
  Tensor a = arange(0.0, 6.0, 1.0, DType::Float32).view({2, 3});
  Tensor t = a.t();
  EXPECT_EQ(t.sizes(), (Shape{3, 2}));
  EXPECT_EQ(t.strides(), (Shape{1, 3}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.contiguous().to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_THROW(t.view({6}), Error);  // non-contiguous: view refuses, reshape copies
  EXPECT_EQ(t.reshape({6}).to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  Tensor b = arange(0.0, 24.0, 1.0, DType::Float32).view({2, 3, 4});
  Tensor p = b.permute({2, 0, 1});
  EXPECT_EQ(p.sizes(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_THROW(b.permute({0, 0, 1}), Error);
  EXPECT_THROW(b.permute({0, 1}), Error);
}

TEST(Tensor, SliceWithStepAndNegativeBounds) {
  Tensor a = arange(0.0, 10.0, 1.0, DType::Float32);
  EXPECT_EQ(a.slice(0, 1, 8, 3).to_vector<float>(), (std::vector<float>{1, 4, 7}));
  EXPECT_EQ(a.slice(0, -3, 10).to_vector<float>(), (std::vector<float>{7, 8, 9}));
  EXPECT_EQ(a.slice(0, 8, 100).to_vector<float>(), (std::vector<float>{8, 9}));
  EXPECT_EQ(a.slice(0, 5, 2).numel(), 0);
  Tensor m = arange(0.0, 12.0, 1.0, DType::Float32).view({3, 4});
  Tensor col = m.slice(1, 1, 2);  // column 1: non-contiguous
  EXPECT_EQ(col.sizes(), (Shape{3, 1}));
  EXPECT_EQ(col.contiguous().to_vector<float>(), (std::vector<float>{1, 5, 9}));
  EXPECT_EQ(m.select(1, -1).to_vector<float>(), (std::vector<float>{3, 7, 11}));
  EXPECT_THROW(m.select(0, 3), Error);
}

TEST(Tensor, ExpandUsesZeroStrides) {
  Tensor a = from_vector<float>({1, 2, 3}, {3, 1});
  Tensor e = a.expand({2, 3, 4});
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(e.contiguous().to_vector<float>()[5], 2.f);  // [0,1,1]
  EXPECT_THROW(a.expand({2, 2}), Error);
  EXPECT_EQ(a.unsqueeze(0).sizes(), (Shape{1, 3, 1}));
  EXPECT_EQ(a.squeeze(1).sizes(), (Shape{3}));
  EXPECT_EQ(a.squeeze(0).sizes(), (Shape{3, 1}));  // size 3: unchanged
  EXPECT_EQ(a.flatten().sizes(), (Shape{3}));
}

TEST(Tensor, CopyBroadcastsAndConverts) {
  Tensor dst = zeros({2, 3}, DType::Float64);
  dst.copy_(from_vector<int32_t>({1, 2, 3}, {3}));
  EXPECT_EQ(dst.to_vector<double>(), (std::vector<double>{1, 2, 3, 1, 2, 3}));
  Tensor t = dst.t();  // write through a strided view
  t.copy_(from_vector<double>({9, 8, 7, 6, 5, 4}, {3, 2}));
  EXPECT_EQ(dst.to_vector<double>(), (std::vector<double>{9, 7, 5, 8, 6, 4}));
  Tensor c = dst.clone();
  EXPECT_NE(c.storage(), dst.storage());
  EXPECT_EQ(dst.to(DType::Int64).to_vector<int64_t>(), (std::vector<int64_t>{9, 7, 5, 8, 6, 4}));
  EXPECT_EQ(from_vector<float>({-1.5f, 2.7f}, {2}).to(DType::Int32).to_vector<int32_t>(), (std::vector<int32_t>{-1, 2}));
}

TEST(Tensor, InPlaceOnTensorRequiringGradNeedsNoGrad) {
  Tensor w = zeros({3}).set_requires_grad(true);
  EXPECT_THROW(w.fill_(1.0), Error);
  NoGradGuard no_grad;
  w.fill_(1.0);
  w.add_(ones({3}), 2.0);
  w.mul_(0.5);
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{1.5, 1.5, 1.5}));
}

TEST(Tensor, PrintingIsReadable) {
  EXPECT_EQ(to_string(from_vector<float>({1, 2.5, 3}, {3})), "tensor([1, 2.5, 3], shape=[3], dtype=float32)");
  EXPECT_EQ(to_string(arange(4).view({2, 2})), "tensor([[0, 1],\n        [2, 3]], shape=[2, 2], dtype=int64)");
  std::string big = to_string(arange(100));
  EXPECT_NE(big.find("0, 1, 2, ..., 97, 98, 99]"), std::string::npos) << big;
  EXPECT_NE(to_string(zeros({2}).set_requires_grad(true)).find("requires_grad"), std::string::npos);
  EXPECT_EQ(to_string(Tensor()), "tensor(undefined)");
}

TEST(Tensor, ErrorsNameShapesAndDevices) {
  try {
    add(zeros({2, 3}), zeros({4}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3] and [4]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("elementwise.cpp"), std::string::npos) << e.what();
  }
  try {
    add(zeros({2}), zeros({2}, DType::Float64));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("float32 and float64"), std::string::npos) << e.what();
  }
  EXPECT_THROW(empty({-1}), Error);
  EXPECT_THROW(Tensor().sizes(), Error);
  EXPECT_THROW(zeros({2}).size(1), Error);
  EXPECT_THROW(Device::parse("gpu"), UsageError);
  EXPECT_EQ(Device::parse("cuda:1"), Device::cuda(1));
}

TEST(Tensor, CudaIsAClearErrorWithoutAGpu) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present: this checks the no-GPU message";
  try {
    zeros({2}, Device::cuda());
    FAIL();
  } catch (const Error& e) {
    const std::string msg = e.message();
    EXPECT_TRUE(msg.find("no CUDA support") != std::string::npos || msg.find("no CUDA GPU") != std::string::npos)
        << msg;
  }
}

TEST(Tensor, SetStorageRehomesData) {
  auto storage = std::make_shared<Storage>(16 * sizeof(float), cpu_allocator());
  Tensor p = ones({2, 3});
  p.set_storage(storage, 4);
  EXPECT_EQ(p.storage(), storage);
  EXPECT_EQ(p.offset(), 4);
  EXPECT_THROW(p.set_storage(storage, 11), Error);  // 11 + 6 > 16
}

}  // namespace
}  // namespace ember


namespace ember {
namespace {

TEST(AsyncReadback, ReturnsPostedValuesInOrder) {
  AsyncReadback r;
  EXPECT_FALSE(r.has_value());
  EXPECT_THROW(r.take(), Error);
  Tensor loss = scalar_tensor(2.5), count = sum(arange(5));
  r.post({loss, count});
  {
    NoGradGuard no_grad;
    loss.fill_(-1.0);  // later changes do not affect what was posted
  }
  EXPECT_EQ(r.take(), (std::vector<double>{2.5, 10.0}));
  EXPECT_FALSE(r.has_value());
  EXPECT_THROW(r.post({zeros({2})}), Error);
}

}  // namespace
}  // namespace ember
