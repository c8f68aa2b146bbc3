// The communicator of a single process: one rank, every collective the identity.
#include <algorithm>

#include "core/dist/communicator.h"
#include "core/error.h"

namespace ember::dist {

namespace {

class DoneRequest final : public Request {
 public:
  bool test() override { return true; }
  void wait() override {}
};

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const char* backend() const override { return "local"; }
  bool accepts(Device) const override { return true; }
  std::unique_ptr<Request> all_reduce_sum_async(float*, int64_t) override { return std::make_unique<DoneRequest>(); }
  void reduce_scatter_sum(const float* send, float* recv, const std::vector<int64_t>& counts) override {
    EMBER_CHECK(counts.size() == 1 && counts[0] >= 0, "dist: one rank needs one count, got {}", counts.size());
    if (send != recv) std::copy(send, send + counts[0], recv);
  }
  void all_gather(float*, const std::vector<int64_t>& counts) override {
    EMBER_CHECK(counts.size() == 1, "dist: one rank needs one count, got {}", counts.size());
  }
  void broadcast_bytes(void*, int64_t, int root) override {
    EMBER_CHECK(root == 0, "dist: root {} of one rank", root);
  }
  std::vector<std::string> gather_bytes(const std::string& mine, int root) override {
    EMBER_CHECK(root == 0, "dist: root {} of one rank", root);
    return {mine};
  }
  void barrier() override {}
};

}  // namespace

std::unique_ptr<Communicator> make_local_communicator() { return std::make_unique<LocalCommunicator>(); }

}  // namespace ember::dist
