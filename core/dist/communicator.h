// Communicator: how the processes of one job (started by mpirun or srun) move bytes between
// them (DESIGN decision 11). It knows ranks and buffers, not models or optimisers.
//
//   std::unique_ptr<Communicator> comm = make_communicator(Device::cpu());
//   comm->all_reduce_sum(grads, n);       // every rank ends with the sum
//
// Three implementations behind this one interface:
//   - local (one process: every collective is the identity; the default without a launcher),
//   - MPI (host buffers; core/dist/mpi_communicator.cpp, or a stub in a build without MPI),
//   - NCCL (device buffers on ember's stream; bootstrapped through MPI; core/dist/nccl_*).
// Collectives are called by every rank in the same order (MPI's and NCCL's rule); a rank
// that skips one hangs the others.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"

namespace ember::dist {

// A collective in flight. wait() returns when its buffer holds the result; test() says so
// without blocking (and lets MPI progress). Destroying an unfinished request waits for it.
class Request {
 public:
  virtual ~Request() = default;
  virtual bool test() = 0;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "local", "mpi" or "nccl".
  virtual const char* backend() const = 0;
  // Whether its float buffers may live on `device`: local takes any, MPI host memory, NCCL
  // the CUDA device.
  virtual bool accepts(Device device) const = 0;

  // In place: data[0, n) becomes the element-wise sum over the ranks. Started now, finished
  // by the request.
  virtual std::unique_ptr<Request> all_reduce_sum_async(float* data, int64_t n) = 0;
  void all_reduce_sum(float* data, int64_t n) { all_reduce_sum_async(data, n)->wait(); }
  // send holds sum(counts) elements on every rank; rank r receives into recv the sum over the
  // ranks of its part send[displacement(r), displacement(r) + counts[r]).
  virtual void reduce_scatter_sum(const float* send, float* recv, const std::vector<int64_t>& counts) = 0;
  // In place over sum(counts) elements: rank r contributes data[displacement(r), + counts[r])
  // and every rank ends with every part.
  virtual void all_gather(float* data, const std::vector<int64_t>& counts) = 0;
  // Host bytes: root's data[0, bytes) to every rank.
  virtual void broadcast_bytes(void* data, int64_t bytes, int root) = 0;
  // Host bytes of any length from every rank; root gets them in rank order, the others {}.
  virtual std::vector<std::string> gather_bytes(const std::string& mine, int root) = 0;
  virtual void barrier() = 0;
};

// The communicator for buffers on `device`: local when this process was not started by a
// launcher (or by one with one rank), MPI for the CPU and NCCL for CUDA otherwise. A build
// without MPI (or NCCL) started by a launcher with several ranks is one clear error.
std::unique_ptr<Communicator> make_communicator(Device device);

std::unique_ptr<Communicator> make_local_communicator();
// MPI over MPI_COMM_WORLD (initialised on first use, finalised at exit).
std::unique_ptr<Communicator> make_mpi_communicator();
// NCCL over the ranks of `bootstrap` (the MPI communicator that hands out NCCL's id and
// carries the host-side collectives), on the CUDA device ember uses in this process.
std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> bootstrap);
bool mpi_built();
bool nccl_built();

// First element of rank r's part: counts[0] + ... + counts[r - 1].
int64_t displacement(const std::vector<int64_t>& counts, int rank);

}  // namespace ember::dist
