// Random tensors from the Philox stream of a Generator (Note [random streams]).
#include "core/backend.h"
#include "core/generator.h"
#include "core/ops.h"

namespace ember {

Generator& default_generator() {
  static Generator generator(0);
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

const Tensor& uniform_(const Tensor& t, double low, double high, Generator* generator) {
  EMBER_CHECK(t.is_contiguous() && is_floating(t.dtype()), "uniform_ needs a contiguous floating tensor");
  Generator& gen = generator ? *generator : default_generator();
  const uint64_t counter = gen.reserve(t.numel());
  if (t.numel() > 0) backend_for(t.device()).random_uniform(t, gen.seed(), counter, low, high);
  return t;
}

const Tensor& normal_(const Tensor& t, double mean, double std, Generator* generator) {
  EMBER_CHECK(t.is_contiguous() && is_floating(t.dtype()), "normal_ needs a contiguous floating tensor");
  Generator& gen = generator ? *generator : default_generator();
  const uint64_t counter = gen.reserve(t.numel());
  if (t.numel() > 0) backend_for(t.device()).random_normal(t, gen.seed(), counter, mean, std);
  return t;
}

Tensor rand(const Shape& shape, TensorOptions options, Generator* generator) {
  Tensor t = empty(shape, options.requires_grad(false));
  uniform_(t, 0.0, 1.0, generator);
  if (options.requires_grad()) t.set_requires_grad(true);
  return t;
}

Tensor randn(const Shape& shape, TensorOptions options, Generator* generator) {
  Tensor t = empty(shape, options.requires_grad(false));
  normal_(t, 0.0, 1.0, generator);
  if (options.requires_grad()) t.set_requires_grad(true);
  return t;
}

}  // namespace ember
