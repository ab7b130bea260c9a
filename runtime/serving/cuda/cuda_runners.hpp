#pragma once
// The GPU side of make_cuda_runners (device_runners.hpp), compiled into the CUDA plugin
// (cuda_plugin.hpp) and into the gpu tests: the runners on GPUs 0 .. N-1, the profiled step, the
// KV cache sized by --gpu-memory-utilization, the CUDA graphs captured at startup.
#include "base/result.hpp"
#include "runtime/serving/device_runners.hpp"

namespace troupe::runtime {

// make_cuda_runners's contract, on this process's CUDA runtime.
result<device_runners> make_runners_on_gpus(llama_weights weights, const engine_config& resolved,
                                            const kv_cache_plan& plan);

// cudaGetDeviceCount (0 on an error).
int cuda_runtime_device_count();

}  // namespace troupe::runtime
