// --device: validated with vLLM's names, resolved to the CPU or a CUDA GPU; asking for a GPU
// that this build or this machine lacks is an error, never a silent fall-back to the CPU.
#include <gtest/gtest.h>

#include "runtime/serving/config_checks.hpp"
#include "runtime/serving/cuda_plugin.hpp"
#include "runtime/serving/device_runners.hpp"
#include "runtime/serving/engine_builder.hpp"

namespace troupe::runtime {
namespace {

int gpus() {
  return cuda_device_count();
}

engine_config on(const std::string& device) {
  engine_config c;
  c.device = device;
  return c;
}

TEST(engine_device, vllm_platforms_troupe_lacks_are_refused) {
  for (const char* name : {"tpu", "xpu", "hpu", "neuron"}) {
    const auto st = validate_engine_config(on(name));
    ASSERT_FALSE(st.ok()) << name;
    EXPECT_EQ(st.message(), std::string("--device ") + name +
                                " is not supported: troupe supports auto, cpu and cuda");
  }
  for (const char* name : {"auto", "cpu", "cuda"})
    EXPECT_TRUE(validate_engine_config(on(name)).ok()) << name;
}

TEST(engine_device, cpu_is_always_the_cpu) {
  auto d = resolve_engine_device(on("cpu"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, engine_device::cpu);
}

TEST(engine_device, auto_takes_a_gpu_only_when_there_is_one) {
  auto d = resolve_engine_device(on("auto"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, built_with_cuda() && gpus() > 0 ? engine_device::cuda : engine_device::cpu);
}

TEST(engine_device, cuda_without_a_gpu_is_an_error) {
  auto d = resolve_engine_device(on("cuda"));
  if (built_with_cuda() && gpus() > 0) {
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, engine_device::cuda);
    return;
  }
  ASSERT_FALSE(d.ok());
  EXPECT_NE(
      d.message().find(built_with_cuda() ? "no CUDA device is available" : "built without CUDA"),
      std::string::npos)
      << d.message();
}

// --kv-cache-dtype auto: on the CPU the activations' type (bf16 under an explicit --dtype
// bfloat16, f32 otherwise, whatever the model); the model's dtype on the GPU, with vLLM's bf16 for
// a model that names none (GGUF).
TEST(engine_device, auto_kv_cache_dtype_is_the_models_on_the_gpu_and_the_activations_on_the_cpu) {
  using backend::cpu_activations;
  using backend::kv_cache_dtype;
  for (auto dtype : {weight_dtype::as_stored, weight_dtype::float32, weight_dtype::bfloat16,
                     weight_dtype::float16}) {
    EXPECT_EQ(auto_kv_cache_dtype(engine_device::cpu, dtype, cpu_activations::f32),
              kv_cache_dtype::f32);
    EXPECT_EQ(auto_kv_cache_dtype(engine_device::cpu, dtype, cpu_activations::bf16),
              kv_cache_dtype::bf16);
  }
  for (auto activations : {cpu_activations::f32, cpu_activations::bf16}) {
    EXPECT_EQ(auto_kv_cache_dtype(engine_device::cuda, weight_dtype::bfloat16, activations),
              kv_cache_dtype::bf16);
    EXPECT_EQ(auto_kv_cache_dtype(engine_device::cuda, weight_dtype::float16, activations),
              kv_cache_dtype::f16);
    EXPECT_EQ(auto_kv_cache_dtype(engine_device::cuda, weight_dtype::float32, activations),
              kv_cache_dtype::f32);
    EXPECT_EQ(auto_kv_cache_dtype(engine_device::cuda, weight_dtype::as_stored, activations),
              kv_cache_dtype::bf16);
  }
}

TEST(engine_device, building_a_cuda_engine_without_a_gpu_fails_before_loading) {
  if (built_with_cuda() && gpus() > 0) GTEST_SKIP() << "this machine has a GPU";
  engine_config c = on("cuda");
  c.model = "/nonexistent/model.gguf";  // the device is checked before the model is read
  auto built = build_engine(c);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.message().find("/nonexistent"), std::string::npos) << built.message();
}

// The CUDA backend is a plugin: it loads (its CUDA libraries found) and its runtime sees the
// devices the driver probe counted.
TEST(engine_device, the_cuda_plugin_loads_and_sees_the_drivers_devices) {
  auto plugin = load_cuda_plugin();
  if (!built_with_cuda()) {
    ASSERT_FALSE(plugin.ok());
    EXPECT_NE(plugin.message().find("built without CUDA"), std::string::npos);
    return;
  }
  ASSERT_TRUE(plugin.ok()) << plugin.message();
  EXPECT_EQ((*plugin)->device_count(), cuda_device_count());
}

}  // namespace
}  // namespace troupe::runtime
