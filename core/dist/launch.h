// What the launcher that started this process says about it: rank, number of ranks and the
// rank on this machine (which GPU to bind), read from the environment that mpirun (Open MPI:
// OMPI_COMM_WORLD_*; MPICH and Intel MPI: PMI_*) or Slurm's srun (SLURM_PROCID, SLURM_NTASKS,
// SLURM_LOCALID) sets. Readable before MPI is initialised, so a build without MPI can still
// tell that it was started by a launcher and say that it cannot take part.
#pragma once

#include <functional>
#include <string>

namespace ember::dist {

struct LaunchInfo {
  int rank = 0;
  int size = 1;
  int local_rank = 0;
  int local_size = 1;
  std::string launcher;  // "mpirun", "pmi", "slurm" or "" (none: one process)
  bool launched() const { return !launcher.empty(); }
};

// getenv by default; tests pass a map. A variable that is set but not a non-negative integer
// (or a rank outside [0, size)) is an ember::UsageError naming it.
using EnvFn = std::function<const char*(const char* name)>;
LaunchInfo detect_launch(const EnvFn& env = {});

// CPU threads for this rank: when the launcher bound the process to fewer cores than the
// machine has (Open MPI binds each of 2 ranks to a core, srun binds by --cpus-per-task),
// the cores it was given; otherwise the machine's cores divided by the ranks on it. At least 1.
int cpu_threads_for_rank(const LaunchInfo& launch, int cores_available, int cores_online);

// The CUDA_VISIBLE_DEVICES that gives this rank one GPU of its own: entry local_rank of the
// current list (`visible`, null when unset: every GPU, numbered 0, 1, ...), so that ember's
// device 0 (Note [one GPU per process] in core/device.cpp) differs between the ranks of a
// machine. More ranks on a machine than listed GPUs is an ember::UsageError.
std::string gpu_for_local_rank(const LaunchInfo& launch, const char* visible);
// Sets CUDA_VISIBLE_DEVICES so (before anything touches CUDA) when launched with several
// ranks on this machine; does nothing otherwise.
void bind_gpu_by_local_rank(const LaunchInfo& launch);

}  // namespace ember::dist
