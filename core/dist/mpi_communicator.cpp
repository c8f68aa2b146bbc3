// The MPI communicator: host buffers, MPI_COMM_WORLD duplicated (so ember's messages never
// mix with a caller's), errors returned (not fatal) and thrown as ember::Error.
#include <mpi.h>

#include <climits>
#include <cstdio>

#include "core/dist/communicator.h"
#include "core/error.h"

namespace ember::dist {

namespace {

std::string mpi_message(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<size_t>(length));
}

#define EMBER_MPI_CHECK(expr)                                                               \
  do {                                                                                      \
    const int ember_mpi_code_ = (expr);                                                     \
    if (ember_mpi_code_ != MPI_SUCCESS) EMBER_FAIL("MPI: {} failed: {}", #expr, mpi_message(ember_mpi_code_)); \
  } while (0)

int to_int(int64_t n, const char* what) {
  EMBER_CHECK(n >= 0 && n <= INT_MAX, "MPI: {} of {} elements does not fit MPI's int count", what, n);
  return static_cast<int>(n);
}

// MPI is initialised once per process and finalised when the process ends (it cannot be
// initialised again), after every communicator is gone.
struct MpiRuntime {
  MpiRuntime() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (initialised) return;
    int provided = 0;
    EMBER_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
    owner = true;
  }
  ~MpiRuntime() {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (owner && !finalised) MPI_Finalize();
  }
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;
  bool owner = false;
};

void ensure_mpi() { static MpiRuntime runtime; }

class MpiRequest final : public Request {
 public:
  explicit MpiRequest(MPI_Request request) : request_(request) {}
  ~MpiRequest() override {
    if (request_ != MPI_REQUEST_NULL && MPI_Wait(&request_, MPI_STATUS_IGNORE) != MPI_SUCCESS)
      std::fprintf(stderr, "ember: MPI: an unfinished all-reduce failed while it was dropped\n");
  }
  MpiRequest(const MpiRequest&) = delete;
  MpiRequest& operator=(const MpiRequest&) = delete;
  bool test() override {
    int done = 0;
    EMBER_MPI_CHECK(MPI_Test(&request_, &done, MPI_STATUS_IGNORE));
    return done != 0;
  }
  void wait() override { EMBER_MPI_CHECK(MPI_Wait(&request_, MPI_STATUS_IGNORE)); }

 private:
  MPI_Request request_;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    ensure_mpi();
    EMBER_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
    EMBER_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
    EMBER_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
    EMBER_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  }
  ~MpiCommunicator() override {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised) MPI_Comm_free(&comm_);
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "mpi"; }
  bool accepts(Device device) const override { return device.is_cpu(); }

  std::unique_ptr<Request> all_reduce_sum_async(float* data, int64_t n) override {
    MPI_Request request = MPI_REQUEST_NULL;
    EMBER_MPI_CHECK(
        MPI_Iallreduce(MPI_IN_PLACE, data, to_int(n, "an all-reduce"), MPI_FLOAT, MPI_SUM, comm_, &request));
    return std::make_unique<MpiRequest>(request);
  }

  void reduce_scatter_sum(const float* send, float* recv, const std::vector<int64_t>& counts) override {
    const std::vector<int> c = int_counts(counts, "a reduce-scatter");
    EMBER_MPI_CHECK(MPI_Reduce_scatter(send, recv, c.data(), MPI_FLOAT, MPI_SUM, comm_));
  }

  void all_gather(float* data, const std::vector<int64_t>& counts) override {
    const std::vector<int> c = int_counts(counts, "an all-gather");
    std::vector<int> first(c.size(), 0);
    for (size_t r = 1; r < c.size(); ++r) first[r] = first[r - 1] + c[r - 1];
    EMBER_MPI_CHECK(
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, c.data(), first.data(), MPI_FLOAT, comm_));
  }

  void broadcast_bytes(void* data, int64_t bytes, int root) override {
    EMBER_MPI_CHECK(MPI_Bcast(data, to_int(bytes, "a broadcast"), MPI_BYTE, root, comm_));
  }

  std::vector<std::string> gather_bytes(const std::string& mine, int root) override {
    const int length = to_int(static_cast<int64_t>(mine.size()), "a gather");
    std::vector<int> lengths(rank_ == root ? size_ : 0);
    EMBER_MPI_CHECK(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, comm_));
    std::vector<int> first(lengths.size(), 0);
    int64_t total = 0;
    for (size_t r = 0; r < lengths.size(); ++r) {
      first[r] = to_int(total, "a gather");
      total += lengths[r];
    }
    std::string all(static_cast<size_t>(to_int(total, "a gather")), '\0');
    EMBER_MPI_CHECK(MPI_Gatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(), first.data(), MPI_CHAR,
                                root, comm_));
    std::vector<std::string> parts;
    for (size_t r = 0; r < lengths.size(); ++r) parts.push_back(all.substr(first[r], lengths[r]));
    return parts;
  }

  void barrier() override { EMBER_MPI_CHECK(MPI_Barrier(comm_)); }

 private:
  std::vector<int> int_counts(const std::vector<int64_t>& counts, const char* what) const {
    EMBER_CHECK(static_cast<int>(counts.size()) == size_, "MPI: {} over {} ranks got {} counts", what, size_,
                counts.size());
    std::vector<int> c;
    int64_t total = 0;
    for (int64_t n : counts) {
      c.push_back(to_int(n, what));
      total += n;
    }
    to_int(total, what);
    return c;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

}  // namespace

bool mpi_built() { return true; }
std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace ember::dist
