#!/usr/bin/env python3
"""Writes a W8A8 int8 copy of a Hugging Face Llama directory, as llm-compressor's
"W8A8-Dynamic-Per-Token" scheme stores it (compressed-tensors, format int-quantized): every
Linear weight of the decoder layers becomes int8 with a per-output-channel symmetric scale
(absmax / 127, stored in the model's dtype), activations are quantized per token at run time;
embeddings, norms and lm_head stay as they are. The same formulas as `troupe make-model
--quantization w8a8` (runtime/formats/hf_make_model.cpp). For benchmarks of the user's second
model type (tools/bench_peers.py's troupe-w8a8 and vllm-w8a8), not for quality: plain rounding,
no SmoothQuant or GPTQ.

    python tools/quantize_w8a8.py SRC DST

Needs torch and safetensors (the vLLM venv that tools/bench_peers.py installs has both).
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def quantization_args(activations):
    return {"actorder": None, "block_structure": None, "dynamic": activations, "group_size": None,
            "num_bits": 8, "observer": None if activations else "minmax", "observer_kwargs": {},
            "strategy": "token" if activations else "channel", "symmetric": True, "type": "int"}


def quantize(weight):
    """int8 weights and [rows, 1] scales (in weight's dtype) for one [rows, cols] matrix."""
    w = weight.float()
    scale = (w.abs().amax(dim=1, keepdim=True) / 127.0).to(weight.dtype)
    s = scale.float()
    q = torch.where(s > 0, torch.round(w / torch.where(s > 0, s, torch.ones_like(s))),
                    torch.zeros_like(w))
    return q.clamp(-128, 127).to(torch.int8), scale


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    tensors = load_file(os.path.join(src, "model.safetensors"))
    out = {}
    for name, t in tensors.items():
        parts = name.split(".")
        if name.endswith(".weight") and len(parts) >= 2 and parts[-2] in LINEAR:
            q, scale = quantize(t)
            out[name] = q
            out[name[: -len("weight")] + "weight_scale"] = scale
        else:
            out[name] = t
    save_file(out, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(src, "config.json")) as f:
        config = json.load(f)
    config["quantization_config"] = {
        "config_groups": {"group_0": {"input_activations": quantization_args(True),
                                      "output_activations": None, "targets": ["Linear"],
                                      "weights": quantization_args(False)}},
        "format": "int-quantized", "ignore": ["lm_head"], "kv_cache_scheme": None,
        "quant_method": "compressed-tensors", "quantization_status": "compressed"}
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    for name in os.listdir(src):
        if name not in ("model.safetensors", "config.json"):
            shutil.copy(os.path.join(src, name), os.path.join(dst, name))
    print(f"wrote {dst}: {sum(1 for n in out if n.endswith('weight_scale'))} int8 matrices")


if __name__ == "__main__":
    main()
