// The CUDA plugin's one exported symbol (cuda_plugin.hpp).
#include "runtime/serving/cuda/cuda_runners.hpp"
#include "runtime/serving/cuda_plugin.hpp"

extern "C" __attribute__((visibility("default"))) const troupe::runtime::cuda_plugin*
troupe_cuda_plugin() {
  static const troupe::runtime::cuda_plugin plugin{troupe::runtime::cuda_runtime_device_count,
                                                   troupe::runtime::make_runners_on_gpus};
  return &plugin;
}
