#!/usr/bin/env python3
"""Model-level K-quant check: the default model requantized to Q4_K_M, with llama.cpp's greedy
tokens, for tests/integration/kquant_model_test.cpp.

Usage: tools/kquant_model_reference.py [--out tests/data/reference/smollm2_q4_k_m_greedy.json]

1. Writes ~/.cache/troupe/models/SmolLM2-135M-Instruct.Q4_K_M.gguf (not committed; the test skips
   without it) from the default Q4_1 model with llama.cpp's own quantizer
   (llama_model_quantize, ftype MOSTLY_Q4_K_M, allow_requantize). SmolLM2's hidden size 576 is
   not a multiple of 256, so llama.cpp falls back to Q5_0 / Q8_0 for rows of 576 and uses Q4_K /
   Q6_K for ffn_down (rows of 1536): the file mixes Q4_K, Q5_0, Q6_K, Q8_0 and F32.
2. Dequantizes that file to F32 with llama.cpp (troupe computes in f32 with dequantized weights)
   and records llama.cpp's greedy tokens on it (tools/llamacpp_reference.py's runner), plus the
   greedy tokens on the Q4_K_M file itself for information.
Run once; the JSON is committed. Needs llama-cpp-python 0.3.16 and `gguf` (reference only).
"""
import argparse
import collections
import ctypes
import json
import os
import sys
import tempfile

import llama_cpp
from gguf import GGUFReader

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llamacpp_reference import DEFAULT_MODEL, GreedyRunner, dequantize_to_f32, sha256_of  # noqa

Q4_K_M_MODEL = os.path.expanduser("~/.cache/troupe/models/SmolLM2-135M-Instruct.Q4_K_M.gguf")
PROMPTS = [
    ("english", "The capital of France is"),
    ("code", "def fibonacci(n):"),
    ("list", "Here is a list of fruits:\n1. Apple\n2. Banana\n3."),
    ("chat", "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"),
]
NUM_TOKENS = 16


def quantize_q4_k_m(src, dst):
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    params.allow_requantize = True
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        sys.exit(f"llama_model_quantize to Q4_K_M failed with code {rc}")


def greedy_all(path):
    runner = GreedyRunner(path, 256, 2)
    try:
        return [(runner.tokenize(p), runner.greedy(runner.tokenize(p), NUM_TOKENS))
                for _, p in PROMPTS]
    finally:
        runner.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="tests/data/reference/smollm2_q4_k_m_greedy.json")
    args = parser.parse_args()
    llama_cpp.llama_backend_init()
    quiet = llama_cpp.llama_log_callback(lambda *_: None)
    llama_cpp.llama_log_set(quiet, ctypes.c_void_p(0))
    if not os.path.exists(Q4_K_M_MODEL):
        quantize_q4_k_m(DEFAULT_MODEL, Q4_K_M_MODEL)
    types = collections.Counter(t.tensor_type.name for t in GGUFReader(Q4_K_M_MODEL).tensors)
    with tempfile.TemporaryDirectory() as tmp:
        f32_path = os.path.join(tmp, "model-f32.gguf")
        dequantize_to_f32(Q4_K_M_MODEL, f32_path)
        f32 = greedy_all(f32_path)
    quantized = greedy_all(Q4_K_M_MODEL)
    out = {
        "model_file": os.path.basename(Q4_K_M_MODEL),
        "model_sha256": sha256_of(Q4_K_M_MODEL),
        "source_sha256": sha256_of(DEFAULT_MODEL),
        "llama_cpp_python_version": llama_cpp.__version__,
        "tensor_types": dict(sorted(types.items())),
        "num_tokens": NUM_TOKENS,
        "prompts": [{"name": name, "prompt": prompt, "prompt_ids": ids, "greedy_ids": greedy,
                     "greedy_ids_q4_k_m": q[1]}
                    for (name, prompt), (ids, greedy), q in zip(PROMPTS, f32, quantized)],
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(json.dumps(out["tensor_types"]))


if __name__ == "__main__":
    main()
