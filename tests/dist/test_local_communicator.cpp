// The single-process communicator, the split of a buffer over ranks, and what a build
// without MPI says when a launcher starts it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/dist/communicator.h"
#include "core/dist/launch.h"
#include "core/dist/partition.h"
#include "core/error.h"

namespace ember::dist {
namespace {

TEST(LocalCommunicator, EveryCollectiveIsTheIdentity) {
  std::unique_ptr<Communicator> comm = make_local_communicator();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  EXPECT_TRUE(comm->accepts(Device::cpu()));
  std::vector<float> data = {1.5f, -2.0f, 3.25f};
  comm->all_reduce_sum(data.data(), 3);
  EXPECT_EQ(data, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  std::vector<float> received(3, 0.0f);
  comm->reduce_scatter_sum(data.data(), received.data(), {3});
  EXPECT_EQ(received, data);
  comm->all_gather(data.data(), {3});
  EXPECT_EQ(data, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  EXPECT_EQ(comm->gather_bytes("row", 0), std::vector<std::string>{"row"});
  EXPECT_THROW(comm->all_gather(data.data(), {1, 2}), Error);
}

TEST(Partition, EvenPartsOnBlockBoundaries) {
  EXPECT_EQ(even_parts(16, 2, 4), (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(even_parts(20, 2, 4), (std::vector<int64_t>{8, 12}));  // 5 blocks: 2 and 3
  EXPECT_EQ(even_parts(22, 3, 4), (std::vector<int64_t>{4, 8, 10}));
  EXPECT_EQ(even_parts(4, 3, 4), (std::vector<int64_t>{0, 0, 4}));  // fewer blocks than parts
  EXPECT_EQ(even_parts(0, 2, 4), (std::vector<int64_t>{0, 0}));
  for (int parts = 1; parts <= 7; ++parts) {
    const std::vector<int64_t> counts = even_parts(1001, parts, 4);
    int64_t total = 0;
    for (int r = 0; r < parts; ++r) {
      EXPECT_EQ(displacement(counts, r) % 4, 0) << parts;
      total += counts[r];
    }
    EXPECT_EQ(total, 1001);
  }
  EXPECT_THROW(even_parts(8, 0, 4), Error);
}

TEST(MakeCommunicator, IsLocalWithoutALauncher) {
  if (detect_launch().launched()) GTEST_SKIP() << "this test runs without mpirun/srun";
  EXPECT_EQ(std::string(make_communicator(Device::cpu())->backend()), "local");
}

// Built without MPI and started by a launcher with two ranks: one clear usage error. (With MPI
// built, the launched case runs for real in test_dist_mpi under mpirun.)
TEST(MakeCommunicator, ABuildWithoutMpiSaysSoUnderALauncher) {
  if (mpi_built()) GTEST_SKIP() << "this build has MPI; test_dist_mpi runs the launched case under mpirun";
  if (detect_launch().launched()) GTEST_SKIP() << "this test sets the launcher's variables itself";
  setenv("OMPI_COMM_WORLD_RANK", "0", 1);
  setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  std::string message;
  try {
    make_communicator(Device::cpu());
  } catch (const UsageError& e) {
    message = e.what();
  }
  unsetenv("OMPI_COMM_WORLD_RANK");
  unsetenv("OMPI_COMM_WORLD_SIZE");
  EXPECT_NE(message.find("has no MPI"), std::string::npos) << message;
  EXPECT_THROW(make_mpi_communicator(), Error);
}

TEST(MakeCommunicator, NcclWithoutNcclIsAClearError) {
  if (nccl_built()) GTEST_SKIP() << "this build has NCCL (it needs GPUs and a launcher to run)";
  try {
    make_nccl_communicator(make_local_communicator());
    FAIL() << "a build without NCCL made an NCCL communicator";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no NCCL support"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ember::dist
