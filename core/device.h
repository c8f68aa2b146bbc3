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
// True when this build has CUDA and GPU 0 answers (its context could be made). Never throws.
bool cuda_available();
// Why no GPU can be used here, "" when one can: no CUDA in this build, or the CUDA runtime's
// error name and text (Note [device detection] in core/device.cpp), e.g. "no CUDA GPU is
// usable (cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime
// version)". Never throws.
std::string cuda_unavailable_reason();
// Number of visible GPUs (0 in a CPU-only build or when none is usable).
int cuda_device_count();
// Throws one clear Error if `device` cannot be used here: CPU-only build, no usable GPU (with
// CUDA's reason), or cuda:N for N != 0 (Note [one GPU per process]).
void check_device_usable(Device device);
// check_device_usable's refusal of cuda:N, N != 0, on a machine with `visible_gpus` usable
// GPUs (Note [one GPU per process]); "" for cpu and cuda:0. Separate so that machines without
// a GPU test its text.
std::string other_gpu_refusal(Device device, int visible_gpus);
// The device a program's --device value names: "auto" is cuda:0 when usable, else the CPU
// after one warning on stderr that names `program` and the reason; anything else is parsed
// (UsageError) and checked (Error).
Device resolve_device(const std::string& name, const std::string& program);
// Human-readable name: "CPU (N threads)" or the GPU's name.
std::string device_name(Device device);

}  // namespace ember
