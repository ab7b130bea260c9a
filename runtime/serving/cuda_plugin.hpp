#pragma once
// The CUDA backend as a plugin: libtroupe_cuda.so (built beside the troupe binary in a CUDA
// build) holds the CUDA backend, kernels/cuda and their cuBLAS/cudart dependencies, and is
// loaded only when the engine runs on a GPU. The troupe binary itself links no CUDA library, so
// it starts on machines without the CUDA toolkit, and a CPU server does not map cuBLAS (its
// relocations alone are 60 MB resident).
//
//   troupe --device auto ── cuda_device_count(): libcuda.so.1 (the driver) probed with dlopen;
//                           no driver or no device -> the CPU, nothing else loaded
//                        └─ a device: load_cuda_plugin() -> troupe_cuda_plugin() -> make_runners
//
// The plugin is this build's code (same compiler, same headers), so the table passes C++ values.
#include "base/result.hpp"
#include "runtime/serving/device_runners.hpp"

namespace troupe::runtime {

struct cuda_plugin {
  // CUDA devices the runtime sees (cudaGetDeviceCount; 0 when none or no driver).
  int (*device_count)();
  // make_cuda_runners's implementation (device_runners.hpp).
  result<device_runners> (*make_runners)(llama_weights weights, const engine_config& resolved,
                                         const kv_cache_plan& plan);
};

// The plugin's one exported symbol.
inline constexpr const char* cuda_plugin_symbol = "troupe_cuda_plugin";
inline constexpr const char* cuda_plugin_file = "libtroupe_cuda.so";

// Loads the plugin once (later calls return the first answer): $TROUPE_CUDA_PLUGIN if set, else
// libtroupe_cuda.so beside the running binary, else in the build tree's bin/. Errors name every
// path tried with dlopen's reason.
result<const cuda_plugin*> load_cuda_plugin();

}  // namespace troupe::runtime

extern "C" const troupe::runtime::cuda_plugin* troupe_cuda_plugin();
