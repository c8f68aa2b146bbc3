// Data-parallel training on two ranks (ctest runs this binary under mpirun -np 2): the
// bucketed all-reduce gives the gradient of the global batch; ZeRO-1 is bit-identical to it;
// its gathered state is the full state dict, and checkpoints move between rank counts.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "optim/grad_buckets.h"
#include "optim/zero1.h"
#include "tests/dist/mlp.h"
#include "tests/dist/two_ranks.h"
#include "tests/support/compare.h"

namespace ember::optim {
namespace {

using testing::Mlp;
constexpr int64_t kGlobalBatch = 10;  // 5 rows per rank: equal shards, as DDP needs for a mean

// Rows of the global batch this rank takes (the same split the trainer makes).
int64_t first_row(const dist::Communicator& comm) { return kGlobalBatch / comm.size() * comm.rank(); }
int64_t rows(const dist::Communicator& comm) { return kGlobalBatch / comm.size(); }

TEST(DataParallel, GradientIsTheGlobalBatchGradient) {
  EMBER_TWO_RANKS(comm);
  for (int64_t bucket_bytes : {int64_t{1}, int64_t{300}, GradientBuckets::kDefaultBucketBytes}) {
    SCOPED_TRACE(bucket_bytes);
    Mlp mlp(11), single(11);
    FlatParameters flat(mlp.named, Device::cpu()), single_flat(single.named, Device::cpu());
    GradientBuckets buckets(*comm, flat, bucket_bytes);
    const auto [x, y] = testing::synthetic_batch(kGlobalBatch, 12);
    mlp.loss(x, y, first_row(*comm), rows(*comm)).backward();
    buckets.finish();
    single.loss(x, y, 0, kGlobalBatch).backward();
    // The mean of two half-batch means against one mean: a few float roundings of O(1) sums
    // (the shared rule: atol 1e-6, rtol 1e-5).
    EXPECT_ALL_CLOSE(flat.grads(), single_flat.grads(), 1e-6, 1e-5);
    // The two ranks hold the same gradient, bit for bit.
    Tensor other = flat.grads().clone();
    comm->broadcast_bytes(other.data<float>(), static_cast<int64_t>(other.nbytes()), 1);
    EXPECT_BIT_EQUAL(flat.grads(), other);
  }
}

// Plain data-parallel (buckets + the full step) and ZeRO-1 from the same start.
struct TwoTrainers {
  explicit TwoTrainers(dist::Communicator& comm, const std::string& spec)
      : comm(comm), plain(21), zero(21), plain_flat(plain.named, Device::cpu()),
        zero_flat(zero.named, Device::cpu()), buckets(comm, plain_flat, 256),
        plain_opt(make_optimizer(spec, plain_flat)), zero_step(comm, zero_flat, parse_optimizer_spec(spec)) {}

  void step(uint64_t seed) {
    const auto [x, y] = testing::synthetic_batch(kGlobalBatch, seed);
    plain_flat.zero_grad();
    plain.loss(x, y, first_row(comm), rows(comm)).backward();
    buckets.finish();
    plain_opt->step();
    zero_flat.zero_grad();
    zero.loss(x, y, first_row(comm), rows(comm)).backward();
    zero_step.step();
  }

  dist::Communicator& comm;
  Mlp plain, zero;
  FlatParameters plain_flat, zero_flat;
  GradientBuckets buckets;
  std::unique_ptr<Optimizer> plain_opt;
  Zero1Step zero_step;
};

TEST(Zero1, BitIdenticalToDataParallel) {
  EMBER_TWO_RANKS(comm);
  for (const char* spec : {"adam:lr=0.01,weight_decay=0.01", "sgd:lr=0.1,momentum=0.9", "rmsprop:lr=0.01"}) {
    SCOPED_TRACE(spec);
    TwoTrainers t(*comm, spec);
    for (uint64_t s = 0; s < 4; ++s) t.step(30 + s);
    EXPECT_BIT_EQUAL(t.zero_flat.values(), t.plain_flat.values());
    // Each rank keeps half of the state (the shards differ by at most 4 elements).
    const int64_t full = t.plain_opt->state_bytes(), mine = t.zero_step.optimizer().state_bytes();
    EXPECT_LE(mine, full / 2 + 16 * static_cast<int64_t>(t.plain_opt->state_names().size())) << full;
    const StateDict gathered = t.zero_step.state_dict(), want = t.plain_opt->state_dict();
    EXPECT_EQ(gathered.meta, want.meta);
    for (const auto& [name, tensor] : want.tensors) EXPECT_BIT_EQUAL(gathered.tensors.at(name), tensor) << name;
  }
}

TEST(Zero1, ResumesWithTheRankCountChanged) {
  EMBER_TWO_RANKS(comm);
  const char* spec = "adamw:lr=0.01,amsgrad=true";
  TwoTrainers t(*comm, spec);
  for (uint64_t s = 0; s < 2; ++s) t.step(50 + s);
  // A checkpoint of the plain run (as one process writes it) resumes under ZeRO-1 on two
  // ranks, and ZeRO-1's gathered checkpoint resumes without sharding.
  const StateDict plain_state = t.plain_opt->state_dict(), zero_state = t.zero_step.state_dict();
  Mlp resumed_zero(99), resumed_plain(99);
  FlatParameters zero_flat(resumed_zero.named, Device::cpu()), plain_flat(resumed_plain.named, Device::cpu());
  zero_flat.values().copy_(t.plain_flat.values());
  plain_flat.values().copy_(t.plain_flat.values());
  Zero1Step zero_step(*comm, zero_flat, parse_optimizer_spec(spec));
  zero_step.load_state_dict(plain_state);
  GradientBuckets buckets(*comm, plain_flat);
  auto plain_opt = make_optimizer(spec, plain_flat);
  plain_opt->load_state_dict(zero_state);

  t.step(52);
  const auto [x, y] = testing::synthetic_batch(kGlobalBatch, 52);
  resumed_zero.loss(x, y, first_row(*comm), rows(*comm)).backward();
  zero_step.step();
  resumed_plain.loss(x, y, first_row(*comm), rows(*comm)).backward();
  buckets.finish();
  plain_opt->step();
  EXPECT_BIT_EQUAL(zero_flat.values(), t.plain_flat.values());
  EXPECT_BIT_EQUAL(plain_flat.values(), t.plain_flat.values());
}

}  // namespace
}  // namespace ember::optim
