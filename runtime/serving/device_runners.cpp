#include "runtime/serving/device_runners.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <climits>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "runtime/serving/cuda_plugin.hpp"

namespace troupe::runtime {

bool built_with_cuda() {
#ifdef TROUPE_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
  if (!built_with_cuda()) return 0;
  // The driver alone (a few MB, no cuBLAS): none installed means no device.
  static const int count = [] {
    void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (driver == nullptr) return 0;
    using init_fn = int (*)(unsigned);
    using count_fn = int (*)(int*);
    auto init = reinterpret_cast<init_fn>(dlsym(driver, "cuInit"));
    auto device_count = reinterpret_cast<count_fn>(dlsym(driver, "cuDeviceGetCount"));
    int n = 0;
    if (init == nullptr || device_count == nullptr || init(0) != 0 || device_count(&n) != 0)
      return 0;
    return n;  // the driver stays loaded: the plugin's runtime will use it
  }();
  return count;
}

namespace {

std::string directory_of_this_binary() {
  std::vector<char> path(PATH_MAX + 1, '\0');
  const ssize_t n = readlink("/proc/self/exe", path.data(), PATH_MAX);
  if (n <= 0) return {};
  std::string p(path.data(), static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

result<const cuda_plugin*> open_cuda_plugin() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("TROUPE_CUDA_PLUGIN"); env != nullptr && *env != '\0') {
    candidates.emplace_back(env);
  } else {
    if (auto dir = directory_of_this_binary(); !dir.empty())
      candidates.push_back(dir + "/" + cuda_plugin_file);
#ifdef TROUPE_CUDA_PLUGIN_BUILD_DIR
    candidates.push_back(std::string(TROUPE_CUDA_PLUGIN_BUILD_DIR) + "/" + cuda_plugin_file);
#endif
  }
  std::string tried;
  for (const auto& path : candidates) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // never closed
    if (handle == nullptr) {
      tried += (tried.empty() ? "" : "; ") + std::string(dlerror());
      continue;
    }
    using entry_fn = const cuda_plugin* (*)();
    auto entry = reinterpret_cast<entry_fn>(dlsym(handle, cuda_plugin_symbol));
    if (entry == nullptr) {
      tried += (tried.empty() ? "" : "; ") + path + ": no " + cuda_plugin_symbol;
      continue;
    }
    spdlog::debug("CUDA backend loaded from {}", path);
    return entry();
  }
  return error{"cannot load the CUDA backend (" + std::string(cuda_plugin_file) +
               "): " + (tried.empty() ? std::string("no path to try") : tried)};
}

}  // namespace

result<const cuda_plugin*> load_cuda_plugin() {
  if (!built_with_cuda()) return error{"this troupe was built without CUDA"};
  static const result<const cuda_plugin*> plugin = open_cuda_plugin();
  return plugin;
}

result<engine_device> resolve_engine_device(const engine_config& config) {
  if (config.device == "cpu") return engine_device::cpu;
  if (config.device == "auto") {
    if (cuda_device_count() == 0) return engine_device::cpu;
    if (auto plugin = load_cuda_plugin(); !plugin) {
      spdlog::warn("a CUDA device is present but {}; running on the CPU", plugin.message());
      return engine_device::cpu;
    }
    return engine_device::cuda;
  }
  if (!built_with_cuda()) {
    return error{
        "--device cuda: this troupe was built without CUDA (configure with nvcc present "
        "or -DTROUPE_CUDA=ON)"};
  }
  if (cuda_device_count() == 0) return error{"--device cuda: no CUDA device is available"};
  if (auto plugin = load_cuda_plugin(); !plugin) return error{"--device cuda: " + plugin.message()};
  return engine_device::cuda;
}

backend::kv_cache_dtype auto_kv_cache_dtype(engine_device device, weight_dtype model_dtype,
                                            backend::cpu_activations cpu_activations) {
  if (device == engine_device::cpu) {
    return cpu_activations == backend::cpu_activations::bf16 ? backend::kv_cache_dtype::bf16
                                                             : backend::kv_cache_dtype::f32;
  }
  switch (model_dtype) {
    case weight_dtype::float32:
      return backend::kv_cache_dtype::f32;
    case weight_dtype::float16:
      return backend::kv_cache_dtype::f16;
    case weight_dtype::bfloat16:
    case weight_dtype::as_stored:
      return backend::kv_cache_dtype::bf16;
  }
  return backend::kv_cache_dtype::bf16;
}

result<device_runners> make_cuda_runners(llama_weights weights, const engine_config& resolved,
                                         const kv_cache_plan& plan) {
  auto plugin = load_cuda_plugin();
  if (!plugin) return plugin.err();
  return (*plugin)->make_runners(std::move(weights), resolved, plan);
}

}  // namespace troupe::runtime
