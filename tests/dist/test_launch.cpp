// Launch detection: rank, size and local rank from mpirun's, PMI's and srun's variables; bad
// values are usage errors; the GPU and the CPU share each rank gets.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/dist/launch.h"
#include "core/error.h"

namespace ember::dist {
namespace {

dist::EnvFn env_of(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(Launch, NoLauncherIsOneProcess) {
  const LaunchInfo info = detect_launch(env_of({{"PATH", "/usr/bin"}}));
  EXPECT_FALSE(info.launched());
  EXPECT_EQ(info.rank, 0);
  EXPECT_EQ(info.size, 1);
}

TEST(Launch, ReadsOpenMpi) {
  const LaunchInfo info = detect_launch(env_of({{"OMPI_COMM_WORLD_RANK", "3"},
                                                {"OMPI_COMM_WORLD_SIZE", "4"},
                                                {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                                {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}}));
  EXPECT_EQ(info.launcher, "mpirun");
  EXPECT_EQ(info.rank, 3);
  EXPECT_EQ(info.size, 4);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.local_size, 2);
}

TEST(Launch, ReadsSrunStepButNotAnSbatchShell) {
  // An sbatch script's shell sees SLURM_PROCID and SLURM_NTASKS but is one process.
  EXPECT_FALSE(detect_launch(env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}})).launched());
  const LaunchInfo info = detect_launch(env_of({{"SLURM_PROCID", "5"},
                                                {"SLURM_NTASKS", "8"},
                                                {"SLURM_STEP_NUM_TASKS", "8"},
                                                {"SLURM_LOCALID", "1"},
                                                {"SLURM_STEP_TASKS_PER_NODE", "4(x2)"}}));
  EXPECT_EQ(info.launcher, "slurm");
  EXPECT_EQ(info.rank, 5);
  EXPECT_EQ(info.size, 8);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.local_size, 4);
}

TEST(Launch, MpirunWinsInsideASlurmAllocation) {
  const LaunchInfo info = detect_launch(env_of({{"SLURM_PROCID", "0"},
                                                {"SLURM_STEP_NUM_TASKS", "1"},
                                                {"OMPI_COMM_WORLD_RANK", "1"},
                                                {"OMPI_COMM_WORLD_SIZE", "2"}}));
  EXPECT_EQ(info.launcher, "mpirun");
  EXPECT_EQ(info.rank, 1);
  EXPECT_EQ(info.local_size, 1);  // not set: at least local_rank + 1
}

TEST(Launch, BadValuesAreUsageErrors) {
  EXPECT_THROW(detect_launch(env_of({{"OMPI_COMM_WORLD_RANK", "x"}, {"OMPI_COMM_WORLD_SIZE", "2"}})), UsageError);
  EXPECT_THROW(detect_launch(env_of({{"OMPI_COMM_WORLD_RANK", "-1"}, {"OMPI_COMM_WORLD_SIZE", "2"}})), UsageError);
  EXPECT_THROW(detect_launch(env_of({{"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "2"}})), UsageError);
  EXPECT_THROW(detect_launch(env_of({{"PMI_RANK", "0"}, {"PMI_SIZE", "0"}})), UsageError);
  EXPECT_THROW(detect_launch(env_of({{"PMI_RANK", "0"}, {"PMI_SIZE", "99999999999"}})), UsageError);
}

TEST(Launch, EachLocalRankGetsItsOwnGpu) {
  LaunchInfo info;
  info.local_rank = 1;
  info.local_size = 2;
  EXPECT_EQ(gpu_for_local_rank(info, nullptr), "1");
  EXPECT_EQ(gpu_for_local_rank(info, "4,6"), "6");
  EXPECT_EQ(gpu_for_local_rank(info, "GPU-a,,GPU-b"), "GPU-b");
  EXPECT_THROW(gpu_for_local_rank(info, "3"), UsageError);
  EXPECT_THROW(gpu_for_local_rank(info, ""), UsageError);
}

TEST(Launch, CpuThreadsAreTheRanksShareOfTheCores) {
  LaunchInfo info;
  info.local_size = 2;
  EXPECT_EQ(cpu_threads_for_rank(info, 16, 16), 8);  // not bound: split the machine
  EXPECT_EQ(cpu_threads_for_rank(info, 1, 16), 1);   // bound by the launcher: what it gave
  info.local_size = 3;
  EXPECT_EQ(cpu_threads_for_rank(info, 2, 2), 1);  // more ranks than cores: still one
}

}  // namespace
}  // namespace ember::dist
