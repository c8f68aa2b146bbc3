#include "core/readback.h"

#include "core/ops.h"
#include "core/readback_impl.h"

namespace ember {

namespace {

struct HostReadback final : AsyncReadback::Impl {
  std::vector<double> values;
  void post(const Tensor& stacked) override { values = stacked.to_vector<double>(); }
  std::vector<double> take() override { return values; }
};

}  // namespace

AsyncReadback::AsyncReadback() = default;
AsyncReadback::~AsyncReadback() = default;
AsyncReadback::AsyncReadback(AsyncReadback&&) noexcept = default;
AsyncReadback& AsyncReadback::operator=(AsyncReadback&&) noexcept = default;

void AsyncReadback::post(const std::vector<Tensor>& values) {
  EMBER_CHECK(!values.empty(), "AsyncReadback::post: nothing to read");
  const Device device = values[0].device();
  // Gather the scalars into one float64 vector on their device (device-side copies only).
  Tensor stacked = empty({static_cast<int64_t>(values.size())}, TensorOptions(DType::Float64).device(device));
  for (size_t i = 0; i < values.size(); ++i) {
    EMBER_CHECK(values[i].numel() == 1 && values[i].device() == device,
                "AsyncReadback::post: value {} must be one element on {}", i, device.str());
    stacked.slice(0, static_cast<int64_t>(i), static_cast<int64_t>(i) + 1).copy_(values[i].detach().reshape({1}));
  }
  if (!impl_) {
    if (device.is_cpu()) impl_ = std::make_unique<HostReadback>();
    else impl_ = detail::make_cuda_readback();
  }
  impl_->post(stacked);
  impl_->has_value = true;
}

bool AsyncReadback::has_value() const { return impl_ && impl_->has_value; }

std::vector<double> AsyncReadback::take() {
  EMBER_CHECK(has_value(), "AsyncReadback::take: nothing was posted");
  impl_->has_value = false;
  return impl_->take();
}

}  // namespace ember
