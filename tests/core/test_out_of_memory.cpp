// The CUDA allocator's out-of-memory messages (core/out_of_memory.h), on every machine: the
// allocator only gathers the numbers (tests/core/test_cuda_allocator.cpp runs out of memory for
// real on a GPU), so the text a user reads is checked here, GPU or not.
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "core/out_of_memory.h"

namespace ember {
namespace {

OutOfMemoryReport report() {
  OutOfMemoryReport r;
  r.device = 0;
  r.requested = uint64_t(1) << 50;
  r.in_use = 3 << 20;
  r.peak = 5 << 19;  // below in_use: the message shows the numbers it is given, whatever they are
  r.pool_reserved = 6 << 20;
  r.device_free = 1536 << 10;
  r.device_total = uint64_t(141) << 30;
  return r;
}

TEST(OutOfMemoryMessage, NamesWhatWasAskedWhatEmberHoldsAndWhatTheDeviceHasLeft) {
  const std::string m = out_of_memory_message(report());
  EXPECT_EQ(m,
            "CUDA out of memory on cuda:0: 1125899906842624 bytes (1073741824.0 MiB) requested; ember has 3145728 "
            "bytes (3.0 MiB) in use (peak 2621440 bytes (2.5 MiB)) and its pool reserves 6291456 bytes (6.0 MiB); "
            "the device has 1572864 bytes (1.5 MiB) free of 151397597184 bytes (144384.0 MiB). Use a smaller batch "
            "size, or free other processes' GPU memory");
  EXPECT_EQ(m.find('\n'), std::string::npos) << "one line";
}

TEST(OutOfMemoryMessage, AGraphPoolNamesWhatWasAskedAndTheDevice) {
  EXPECT_EQ(graph_out_of_memory_message(report()),
            "CUDA out of memory in a CUDA graph's memory pool on cuda:0: 1125899906842624 bytes (1073741824.0 MiB) "
            "requested; the device has 1572864 bytes (1.5 MiB) free of 151397597184 bytes (144384.0 MiB)");
}

TEST(OutOfMemoryMessage, AnUnknownFreeAmountIsSaidNotShownAsZero) {
  OutOfMemoryReport r = report();
  r.device_free = 0;
  r.device_total = 0;  // cudaMemGetInfo failed
  for (const std::string& m : {out_of_memory_message(r), graph_out_of_memory_message(r)}) {
    EXPECT_NE(m.find("; the device could not say how much it has free"), std::string::npos) << m;
    EXPECT_EQ(m.find("free of"), std::string::npos) << m;
  }
}

TEST(OutOfMemoryMessage, BytesAreExactWithMebibytesBeside) {
  EXPECT_EQ(format_bytes(0), "0 bytes (0.0 MiB)");
  EXPECT_EQ(format_bytes(1), "1 bytes (0.0 MiB)");
  EXPECT_EQ(format_bytes(1048576 + 52429), "1101005 bytes (1.1 MiB)");
  EXPECT_EQ(format_bytes(UINT64_MAX), "18446744073709551615 bytes (17592186044416.0 MiB)");
}

}  // namespace
}  // namespace ember
