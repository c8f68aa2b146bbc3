// Device: where a tensor's bytes live.
#pragma once

#include <string>

namespace ember {

enum class DeviceType { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;  // "cpu", "cuda:0"
  // Parses "cpu", "cuda", "cuda:N"; throws UsageError otherwise.
  static Device parse(const std::string& text);

  friend bool operator==(Device a, Device b) { return a.type == b.type && a.index == b.index; }
  friend bool operator!=(Device a, Device b) { return !(a == b); }
};

// True when this build has the CUDA backend (EMBER_CUDA) - says nothing about hardware.
bool cuda_built();
// True when this build has CUDA and at least one GPU answers. Never throws.
bool cuda_available();
// Number of visible GPUs (0 in a CPU-only build or without a driver).
int cuda_device_count();
// Throws one clear Error if `device` cannot be used here (CPU-only build, no GPU, bad index).
void check_device_usable(Device device);
// Human-readable name: "CPU (N threads)" or the GPU's name.
std::string device_name(Device device);

}  // namespace ember
