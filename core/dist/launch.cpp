#include "core/dist/launch.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"

namespace ember::dist {

namespace {

// The variable's value as a non-negative int, -1 when it is not set.
int env_int(const EnvFn& env, const char* name) {
  const char* text = env(name);
  if (text == nullptr) return -1;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  EMBER_USAGE_CHECK(end != text && value >= 0 && value <= 1 << 24 && (*end == '\0' || *end == '('),
                    "the launcher set {}='{}', which is not a rank or a count", name, text);
  return static_cast<int>(value);
}

struct Scheme {
  const char* launcher;
  const char* rank;
  const char* size;
  const char* local_rank;
  const char* local_size;
};

// Checked in this order: mpirun sets its own variables also inside a Slurm allocation. Slurm's
// step variables (not SLURM_NTASKS, which an sbatch script's single shell also sees) mark a
// process started by srun; SLURM_STEP_TASKS_PER_NODE reads "2(x3)": 2 tasks on each of 3 nodes.
constexpr Scheme kSchemes[] = {
    {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"},
    {"pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
    {"slurm", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", "SLURM_STEP_TASKS_PER_NODE"},
};

}  // namespace

LaunchInfo detect_launch(const EnvFn& env_or_default) {
  const EnvFn env = env_or_default ? env_or_default : [](const char* name) { return std::getenv(name); };
  for (const Scheme& s : kSchemes) {
    const int rank = env_int(env, s.rank), size = env_int(env, s.size);
    if (rank < 0 || size < 0) continue;
    EMBER_USAGE_CHECK(size >= 1 && rank < size, "the launcher ({}) says rank {} of {} ({}, {})", s.launcher, rank,
                      size, s.rank, s.size);
    LaunchInfo info;
    info.launcher = s.launcher;
    info.rank = rank;
    info.size = size;
    info.local_rank = std::max(0, env_int(env, s.local_rank));
    info.local_size = std::max(info.local_rank + 1, env_int(env, s.local_size));
    return info;
  }
  return {};
}

int cpu_threads_for_rank(const LaunchInfo& launch, int cores_available, int cores_online) {
  if (cores_available < cores_online) return std::max(1, cores_available);
  return std::max(1, cores_available / std::max(1, launch.local_size));
}

std::string gpu_for_local_rank(const LaunchInfo& launch, const char* visible) {
  if (visible == nullptr) return std::to_string(launch.local_rank);
  std::vector<std::string> gpus;
  std::string item;
  for (const char* c = visible;; ++c) {
    if (*c == ',' || *c == '\0') {
      if (!item.empty()) gpus.push_back(item);
      item.clear();
      if (*c == '\0') break;
    } else {
      item += *c;
    }
  }
  EMBER_USAGE_CHECK(launch.local_rank < static_cast<int>(gpus.size()),
                    "local rank {} needs its own GPU, but CUDA_VISIBLE_DEVICES='{}' lists {}: start at most one "
                    "rank per GPU on each machine",
                    launch.local_rank, visible, gpus.size());
  return gpus[launch.local_rank];
}

void bind_gpu_by_local_rank(const LaunchInfo& launch) {
  if (launch.local_size <= 1) return;
  const std::string gpu = gpu_for_local_rank(launch, std::getenv("CUDA_VISIBLE_DEVICES"));
  setenv("CUDA_VISIBLE_DEVICES", gpu.c_str(), 1);
}

}  // namespace ember::dist
