#!/usr/bin/env python3
"""Writes reference values of the default model's tensors, dequantized by the Python `gguf`
package (llama.cpp's own reader), for tests/runtime/formats/smollm2_test.cpp.

Usage: tools/gguf_reference_values.py [MODEL.gguf] [OUT.json]
Defaults: ~/.cache/troupe/models/SmolLM2-135M-Instruct.Q4_1.gguf and
tests/data/formats/smollm2_values.json. Run once; the output is committed. Needs `pip install gguf`
(reference only: troupe itself does not use Python).
"""
import hashlib
import json
import os
import random
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

TENSORS = [
    "token_embd.weight",        # Q8_0
    "blk.0.attn_q.weight",      # Q4_1
    "blk.0.attn_k.weight",
    "blk.0.ffn_down.weight",
    "blk.29.ffn_up.weight",
    "blk.0.attn_norm.weight",   # F32
    "output_norm.weight",
]
HPARAM_KEYS = [
    "llama.block_count", "llama.embedding_length", "llama.feed_forward_length",
    "llama.attention.head_count", "llama.attention.head_count_kv", "llama.context_length",
    "llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon", "llama.vocab_size",
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tensor_entry(tensor, rng):
    # gguf returns numpy shape (ne1, ne0); flatten in C order = ggml's ne0-fastest order.
    values = dequantize(tensor.data, tensor.tensor_type).astype(np.float32).reshape(-1)
    n = values.size
    indices = sorted({0, 1, 31, 32, n // 2, n - 1, *rng.sample(range(n), 12)})
    return {
        "name": tensor.name,
        "type": tensor.tensor_type.name,
        "shape": [int(d) for d in tensor.shape],  # ne0 first
        "sum": float(values.astype(np.float64).sum()),
        "abs_sum": float(np.abs(values.astype(np.float64)).sum()),
        "values": [{"index": int(i), "value": float(values[i])} for i in indices],
    }


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser(
        "~/.cache/troupe/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(__file__), "..", "tests", "data", "formats", "smollm2_values.json")
    reader = GGUFReader(model)
    by_name = {t.name: t for t in reader.tensors}
    rng = random.Random(1234)
    doc = {
        "model_file": os.path.basename(model),
        "model_sha256": sha256(model),
        "num_tensors": len(reader.tensors),
        "hparams": {k: reader.fields[k].contents() for k in HPARAM_KEYS},
        "tensors": [tensor_entry(by_name[name], rng) for name in TENSORS],
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
