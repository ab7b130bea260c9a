#pragma once
// Where the engine's model runs (--device) and, on a GPU, its runner and the KV cache sized from
// device memory:
//
//   --device auto   the GPU when this build has CUDA and a device is present, else the CPU
//   --device cuda   the GPU (an error without one); cpu: the CPU backend
//
// GPU KV cache sizing (vLLM's rule), unless --num-gpu-blocks-override fixes the block count:
//   1. upload the weights and run one maximal step (max_num_batched_tokens tokens, max_num_seqs
//      sampled rows) on a cache just large enough for it: activation buffers, cuBLAS workspace
//      and logits reach their peak and stay allocated;
//   2. blocks = (total * --gpu-memory-utilization - memory in use) / bytes per block, plus the
//      profiling cache's blocks (reused);
//   3. refuse to start when one request of max_model_len tokens does not fit; log the blocks and
//      the maximum concurrency at max_model_len.
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "runtime/backend/backend_types.hpp"
#include "runtime/engine_config.hpp"
#include "runtime/formats/weight_dtype.hpp"
#include "runtime/model/llama_weights.hpp"
#include "runtime/model_runner.hpp"
#include "runtime/serving/kv_cache_sizing.hpp"

namespace troupe::runtime {

enum class engine_device { cpu, cuda };

// Whether this binary was built with the CUDA backend (the plugin, cuda_plugin.hpp).
bool built_with_cuda();

// CUDA devices present, asked of the driver (libcuda.so.1) without loading the CUDA backend; 0
// without CUDA in this build, without a driver or without a device. Asked once per process.
int cuda_device_count();

// --device resolved. Errors: cuda asked for in a build without CUDA or on a machine without a
// device. requires: validate_engine_config(config) passed.
result<engine_device> resolve_engine_device(const engine_config& config);

// What --kv-cache-dtype auto means on `device` for a model whose --dtype resolved to
// `model_dtype` (model_files::dtype), with `cpu_activations` what the CPU's bf16 products
// multiply (engine_builder: an explicit --dtype bfloat16 gives bf16). vLLM's auto is "the
// model's dtype" (the activations'):
//   cpu    the activations' type: bf16 under an explicit --dtype bfloat16 (vLLM's numerics: its
//          CPU backend keeps a bf16 model's cache in bf16), else f32 whatever the model
//          (troupe's reference numerics compute in f32, 16-bit weights widened as they are
//          read)
//   cuda   bfloat16 -> bf16, float16 -> f16; float32 -> f32 (troupe computes an f32 model in f32
//          on the GPU too; vLLM would downcast it to bf16); as_stored (a GGUF file, or a
//          directory whose config.json names no dtype) -> bf16: vLLM reads no dtype there,
//          takes float32 and downcasts it to the GPU's preferred bfloat16 (Ampere and Hopper;
//          vLLM picks float16 for GGUF on Blackwell). W8A8 checkpoints carry their activations'
//          torch_dtype (bfloat16 for vLLM's), so they get its 16-bit type.
backend::kv_cache_dtype auto_kv_cache_dtype(engine_device device, weight_dtype model_dtype,
                                            backend::cpu_activations cpu_activations);

struct device_runners {
  std::vector<std::unique_ptr<model_runner>> runners;
  kv_cache_plan plan;  // the blocks the runners hold
};

// The runners on the GPU: one, or at --tensor-parallel-size N one per GPU 0 .. N-1 joined by
// NCCL (tensor_parallel_runner over an nccl_group); with --data-parallel-size D, D such engines
// one after the other, engine d on GPUs d x N .. d x N + N - 1 (built_engine::runners' order; an
// error when fewer GPUs exist), every rank with the blocks the fullest GPU affords. `resolved` has
// max_model_len, max_num_batched_tokens and max_num_seqs final; `plan` gives the block size, the
// cache dtype, the bytes per block and (--num-gpu-blocks-override) a fixed block count.
result<device_runners> make_cuda_runners(llama_weights weights, const engine_config& resolved,
                                         const kv_cache_plan& plan);

}  // namespace troupe::runtime
