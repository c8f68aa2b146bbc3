// The NCCL communicator: float buffers on the CUDA device ember uses, collectives queued on
// CUDA streams (nothing waits on the host). All-reduces run on a stream of their own, so a
// bucket's all-reduce overlaps the backward kernels that ember's stream is still running:
// Note [overlapped all-reduce on the GPU]. The MPI communicator it was built from hands NCCL's
// unique id to every rank and carries the host-side collectives (bytes, barrier).
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdio>
#include <utility>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/dist/communicator.h"
#include "core/error.h"

namespace ember::dist {

namespace {

#define EMBER_NCCL_CHECK(expr)                                                                          \
  do {                                                                                                  \
    const ncclResult_t ember_nccl_result_ = (expr);                                                     \
    if (ember_nccl_result_ != ncclSuccess)                                                              \
      EMBER_FAIL("NCCL: {} failed: {}", #expr, ncclGetErrorString(ember_nccl_result_));                 \
  } while (0)

// Note [overlapped all-reduce on the GPU]
// The all-reduce stream first waits for an event recorded on ember's stream (the gradients of
// the bucket are written), then all-reduces; wait() makes ember's stream wait for the event
// recorded after it. Neither step blocks the host.
class NcclRequest final : public Request {
 public:
  explicit NcclRequest(cudaEvent_t done) : done_(done) {}
  ~NcclRequest() override { EMBER_CUDA_LOG_ERROR(cudaEventDestroy(done_)); }
  NcclRequest(const NcclRequest&) = delete;
  NcclRequest& operator=(const NcclRequest&) = delete;
  bool test() override { return cudaEventQuery(done_) == cudaSuccess; }
  void wait() override { EMBER_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(), done_, 0)); }

 private:
  cudaEvent_t done_;
};

cudaEvent_t new_event() {
  cudaEvent_t event = nullptr;
  EMBER_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  return event;
}

class NcclCommunicator final : public Communicator {
 public:
  explicit NcclCommunicator(std::unique_ptr<Communicator> bootstrap) : bootstrap_(std::move(bootstrap)) {
    ncclUniqueId id{};
    if (bootstrap_->rank() == 0) EMBER_NCCL_CHECK(ncclGetUniqueId(&id));
    bootstrap_->broadcast_bytes(&id, sizeof(id), 0);
    EMBER_CUDA_CHECK(cudaSetDevice(0));  // Note [one GPU per process] in core/device.cpp
    EMBER_NCCL_CHECK(ncclCommInitRank(&comm_, bootstrap_->size(), id, bootstrap_->rank()));
    EMBER_CUDA_CHECK(cudaStreamCreateWithFlags(&reduce_stream_, cudaStreamNonBlocking));
  }
  ~NcclCommunicator() override {
    if (comm_ != nullptr && ncclCommDestroy(comm_) != ncclSuccess) std::fprintf(stderr, "ember: ncclCommDestroy failed\n");
    if (reduce_stream_ != nullptr) EMBER_CUDA_LOG_ERROR(cudaStreamDestroy(reduce_stream_));
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return bootstrap_->rank(); }
  int size() const override { return bootstrap_->size(); }
  const char* backend() const override { return "nccl"; }
  bool accepts(Device device) const override { return device.is_cuda(); }

  std::unique_ptr<Request> all_reduce_sum_async(float* data, int64_t n) override {
    cudaEvent_t ready = new_event();
    EMBER_CUDA_CHECK(cudaEventRecord(ready, cuda::stream()));
    EMBER_CUDA_CHECK(cudaStreamWaitEvent(reduce_stream_, ready, 0));
    EMBER_CUDA_CHECK(cudaEventDestroy(ready));  // released once the recorded work completes
    EMBER_NCCL_CHECK(ncclAllReduce(data, data, static_cast<size_t>(n), ncclFloat32, ncclSum, comm_, reduce_stream_));
    cudaEvent_t done = new_event();
    EMBER_CUDA_CHECK(cudaEventRecord(done, reduce_stream_));
    return std::make_unique<NcclRequest>(done);
  }

  // Parts of different lengths: one ncclReduce per root in one group (NCCL's own
  // reduce-scatter needs equal parts).
  void reduce_scatter_sum(const float* send, float* recv, const std::vector<int64_t>& counts) override {
    check_counts(counts);
    EMBER_NCCL_CHECK(ncclGroupStart());
    for (int r = 0; r < size(); ++r)
      EMBER_NCCL_CHECK(ncclReduce(send + displacement(counts, r), r == rank() ? recv : nullptr,
                                  static_cast<size_t>(counts[r]), ncclFloat32, ncclSum, r, comm_, cuda::stream()));
    EMBER_NCCL_CHECK(ncclGroupEnd());
  }

  void all_gather(float* data, const std::vector<int64_t>& counts) override {
    check_counts(counts);
    EMBER_NCCL_CHECK(ncclGroupStart());
    for (int r = 0; r < size(); ++r) {
      float* part = data + displacement(counts, r);
      EMBER_NCCL_CHECK(
          ncclBroadcast(part, part, static_cast<size_t>(counts[r]), ncclFloat32, r, comm_, cuda::stream()));
    }
    EMBER_NCCL_CHECK(ncclGroupEnd());
  }

  void broadcast_bytes(void* data, int64_t bytes, int root) override { bootstrap_->broadcast_bytes(data, bytes, root); }
  std::vector<std::string> gather_bytes(const std::string& mine, int root) override {
    return bootstrap_->gather_bytes(mine, root);
  }
  void barrier() override {
    EMBER_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
    bootstrap_->barrier();
  }

 private:
  void check_counts(const std::vector<int64_t>& counts) const {
    EMBER_CHECK(static_cast<int>(counts.size()) == size(), "NCCL: {} counts for {} ranks", counts.size(), size());
  }

  std::unique_ptr<Communicator> bootstrap_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t reduce_stream_ = nullptr;
};

}  // namespace

bool nccl_built() { return true; }

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> bootstrap) {
  EMBER_CHECK(bootstrap && std::string(bootstrap->backend()) == "mpi", "NCCL: needs an MPI communicator to start");
  return std::make_unique<NcclCommunicator>(std::move(bootstrap));
}

}  // namespace ember::dist
