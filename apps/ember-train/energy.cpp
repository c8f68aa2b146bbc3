#include "apps/ember-train/energy.h"

#include <dlfcn.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <vector>

#include <fmt/format.h>

namespace ember::train {

namespace {

class UnavailableMeter final : public EnergyMeter {
 public:
  explicit UnavailableMeter(std::string reason) : reason_(std::move(reason)) {}
  std::string source() const override { return "unavailable: " + reason_; }
  void sample() override {}
  double joules() const override { return 0.0; }

 private:
  std::string reason_;
};

// --- RAPL

bool read_u64(const std::filesystem::path& path, uint64_t& value) {
  std::ifstream in(path);
  return static_cast<bool>(in >> value);
}

struct RaplZone {
  std::filesystem::path energy_file;
  uint64_t range = 0;  // max_energy_range_uj: the counter wraps to 0 after this
  uint64_t last = 0;
};

class RaplMeter final : public EnergyMeter {
 public:
  explicit RaplMeter(std::vector<RaplZone> zones) : zones_(std::move(zones)) {}
  std::string source() const override { return "rapl"; }
  void sample() override {
    for (RaplZone& z : zones_) {
      uint64_t now = 0;
      if (!read_u64(z.energy_file, now)) continue;  // a transient read error: next sample catches up
      const uint64_t delta = now >= z.last ? now - z.last : (z.range - z.last) + now;
      microjoules_ += static_cast<double>(delta);
      z.last = now;
    }
  }
  double joules() const override { return microjoules_ * 1e-6; }

 private:
  std::vector<RaplZone> zones_;
  double microjoules_ = 0;
};

// --- NVML (the few declarations we use; the library is opened at run time)

using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
constexpr nvmlReturn_t kNvmlSuccess = 0;

class NvmlMeter final : public EnergyMeter {
 public:
  NvmlMeter(void* lib, nvmlDevice_t device, nvmlReturn_t (*get_energy)(nvmlDevice_t, unsigned long long*),
            nvmlReturn_t (*shutdown)(), unsigned long long start)
      : lib_(lib), device_(device), get_energy_(get_energy), shutdown_(shutdown), start_(start), last_(start) {}
  ~NvmlMeter() override {
    if (shutdown_) shutdown_();
    dlclose(lib_);
  }
  NvmlMeter(const NvmlMeter&) = delete;
  NvmlMeter& operator=(const NvmlMeter&) = delete;
  std::string source() const override { return "nvml"; }
  void sample() override {
    unsigned long long mj = 0;  // millijoules since the driver loaded; 64-bit, no wrap in practice
    if (get_energy_(device_, &mj) == kNvmlSuccess) last_ = mj;
  }
  double joules() const override { return static_cast<double>(last_ - start_) * 1e-3; }

 private:
  void* lib_;
  nvmlDevice_t device_;
  nvmlReturn_t (*get_energy_)(nvmlDevice_t, unsigned long long*);
  nvmlReturn_t (*shutdown_)();
  unsigned long long start_, last_;
};

// "<vendor>-rapl:N": a package zone (not a subzone like intel-rapl:0:0, nor intel-rapl-mmio:0).
bool is_package_zone(const std::string& name) {
  const size_t colon = name.find(':');
  if (colon == std::string::npos || colon < 6 || name.compare(colon - 5, 5, "-rapl") != 0) return false;
  const std::string index = name.substr(colon + 1);
  return !index.empty() && index.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

std::unique_ptr<EnergyMeter> make_unavailable_meter(const std::string& reason) {
  return std::make_unique<UnavailableMeter>(reason);
}

std::unique_ptr<EnergyMeter> make_rapl_meter(const std::string& root) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return make_unavailable_meter(fmt::format("no RAPL counters ({} not found)", root));
  std::vector<RaplZone> zones;
  std::string unreadable;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (!is_package_zone(name)) continue;
    RaplZone z;
    z.energy_file = entry.path() / "energy_uj";
    if (!read_u64(z.energy_file, z.last) || !read_u64(entry.path() / "max_energy_range_uj", z.range)) {
      unreadable = z.energy_file.string();
      continue;
    }
    zones.push_back(z);
  }
  if (zones.empty()) {
    return make_unavailable_meter(unreadable.empty()
                                      ? fmt::format("no RAPL package zones under {}", root)
                                      : fmt::format("RAPL counters are not readable ({}; they need root on most kernels)",
                                                    unreadable));
  }
  return std::make_unique<RaplMeter>(std::move(zones));
}

std::unique_ptr<EnergyMeter> make_nvml_meter(int cuda_device_index) {
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return make_unavailable_meter("NVML not found (libnvidia-ml.so.1 is part of the NVIDIA driver)");
  auto init = reinterpret_cast<nvmlReturn_t (*)()>(dlsym(lib, "nvmlInit_v2"));
  auto shutdown = reinterpret_cast<nvmlReturn_t (*)()>(dlsym(lib, "nvmlShutdown"));
  auto by_index = reinterpret_cast<nvmlReturn_t (*)(unsigned, nvmlDevice_t*)>(dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"));
  auto energy = reinterpret_cast<nvmlReturn_t (*)(nvmlDevice_t, unsigned long long*)>(
      dlsym(lib, "nvmlDeviceGetTotalEnergyConsumption"));
  nvmlDevice_t device = nullptr;
  unsigned long long start = 0;
  std::string problem;
  if (!init || !shutdown || !by_index || !energy) problem = "NVML lacks the energy functions (driver too old)";
  else if (init() != kNvmlSuccess) problem = "NVML did not initialise";
  else if (by_index(static_cast<unsigned>(cuda_device_index), &device) != kNvmlSuccess) problem = "NVML has no such GPU";
  else if (energy(device, &start) != kNvmlSuccess) problem = "this GPU does not report its energy counter";
  if (!problem.empty()) {
    if (init && shutdown && problem != "NVML did not initialise") shutdown();
    dlclose(lib);
    return make_unavailable_meter(problem);
  }
  return std::make_unique<NvmlMeter>(lib, device, energy, shutdown, start);
}

std::unique_ptr<EnergyMeter> make_energy_meter(int cuda_device_index) {
  return cuda_device_index >= 0 ? make_nvml_meter(cuda_device_index) : make_rapl_meter();
}

}  // namespace ember::train
