// The MPI communicator on two ranks (ctest runs this binary under mpirun -np 2): every
// collective's result against the sum or the parts computed here, with awkward lengths
// (0, 1, odd, unequal parts).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/dist/communicator.h"
#include "core/error.h"
#include "tests/dist/two_ranks.h"

namespace ember::dist {
namespace {

// What rank r holds at element i: exact in float, different on every rank.
float value(int rank, int64_t i) { return static_cast<float>((rank + 1) * (i % 97)) - 0.5f * rank; }

TEST(MpiCollectives, AllReduceSums) {
  EMBER_TWO_RANKS(comm);
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{1003}}) {
    std::vector<float> data(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) data[i] = value(comm->rank(), i);
    auto request = comm->all_reduce_sum_async(data.data(), n);
    request->wait();
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(data[i], value(0, i) + value(1, i)) << "n " << n << " at " << i;
  }
}

TEST(MpiCollectives, ReduceScatterGivesEachRankItsPart) {
  EMBER_TWO_RANKS(comm);
  const std::vector<int64_t> counts = {5, 998};
  std::vector<float> send(1003);
  for (int64_t i = 0; i < 1003; ++i) send[i] = value(comm->rank(), i);
  std::vector<float> received(static_cast<size_t>(counts[comm->rank()]), -1.0f);
  comm->reduce_scatter_sum(send.data(), received.data(), counts);
  const int64_t first = displacement(counts, comm->rank());
  for (int64_t i = 0; i < counts[comm->rank()]; ++i)
    ASSERT_EQ(received[i], value(0, first + i) + value(1, first + i)) << i;
}

TEST(MpiCollectives, AllGatherInPlace) {
  EMBER_TWO_RANKS(comm);
  for (const std::vector<int64_t>& counts : {std::vector<int64_t>{3, 8}, std::vector<int64_t>{0, 4}}) {
    const int64_t n = counts[0] + counts[1];
    std::vector<float> data(static_cast<size_t>(n), -7.0f);  // the other rank's part: overwritten
    const int64_t first = displacement(counts, comm->rank());
    for (int64_t i = 0; i < counts[comm->rank()]; ++i) data[first + i] = value(comm->rank(), first + i);
    comm->all_gather(data.data(), counts);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(data[i], value(i < counts[0] ? 0 : 1, i)) << i;
  }
}

TEST(MpiCollectives, BytesBroadcastAndGather) {
  EMBER_TWO_RANKS(comm);
  char word[6] = "xxxxx";
  if (comm->rank() == 1) std::copy_n("hello", 6, word);
  comm->broadcast_bytes(word, 6, 1);
  EXPECT_EQ(std::string(word), "hello");
  const std::string mine = comm->rank() == 0 ? std::string() : std::string("row of rank 1\n");
  const std::vector<std::string> rows = comm->gather_bytes(mine, 0);
  if (comm->rank() == 0) {
    EXPECT_EQ(rows, (std::vector<std::string>{"", "row of rank 1\n"}));
  } else {
    EXPECT_TRUE(rows.empty());
  }
  comm->barrier();
}

TEST(MpiCollectives, CountsMustMatchTheRanks) {
  EMBER_TWO_RANKS(comm);
  std::vector<float> data(4);
  EXPECT_THROW(comm->all_gather(data.data(), {4}), Error);  // checked before MPI is called
}

}  // namespace
}  // namespace ember::dist
