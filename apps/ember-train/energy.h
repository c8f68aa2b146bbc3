// Energy used by a run ("better optimiser, means less ruining earth"): on an NVIDIA GPU the
// board's cumulative energy counter through NVML; on the CPU the Linux powercap (RAPL)
// package counters; otherwise "unavailable" with the reason.
//
// NVML is loaded at run time (dlopen of libnvidia-ml.so.1), so building needs no driver and
// a machine without one simply reports the reason. RAPL counters wrap at
// max_energy_range_uj; sample() must be called more often than a wrap takes (tens of
// minutes at full power), which a training loop does at every log point.
#pragma once

#include <memory>
#include <string>

namespace ember::train {

class EnergyMeter {
 public:
  virtual ~EnergyMeter() = default;
  // "nvml", "rapl" or "unavailable: <reason>".
  virtual std::string source() const = 0;
  bool available() const { return source().rfind("unavailable", 0) != 0; }
  // Reads the counter and folds it into the total (handles wrap-around).
  virtual void sample() = 0;
  // Joules since construction, as of the last sample().
  virtual double joules() const = 0;
};

// The meter for a run on `device_index` (-1: the CPU).
std::unique_ptr<EnergyMeter> make_energy_meter(int cuda_device_index);
// RAPL over the powercap tree at `root` (default /sys/class/powercap): every top-level
// package zone ("<vendor>-rapl:N", without a sub-index like :N:M) summed.
std::unique_ptr<EnergyMeter> make_rapl_meter(const std::string& root = "/sys/class/powercap");
std::unique_ptr<EnergyMeter> make_nvml_meter(int cuda_device_index);
std::unique_ptr<EnergyMeter> make_unavailable_meter(const std::string& reason);

}  // namespace ember::train
