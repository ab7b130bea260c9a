#!/usr/bin/env python3
"""Writes the Q5_0/Q5_1/Q4_K/Q5_K/Q6_K dequantization fixture for tests/runtime/formats.

Usage: tools/kquant_reference.py [OUT_DIR]   (default tests/data/formats)
Writes OUT_DIR/kquants.gguf (one small tensor per type, blocks made by llama.cpp's own quantizer)
and OUT_DIR/kquants_values.json (every weight as gguf-py 0.19.0's `gguf.quants.dequantize`
decodes it). Run once; both outputs are committed. Needs `pip install gguf` and llama-cpp-python
0.3.16 (reference only: troupe itself does not use Python).

How: a tiny random F32 llama GGUF (hidden 256, so every row is whole K-quant super-blocks) is
written with gguf-py, quantized by `llama_cpp.llama_model_quantize` once per target type with
`pure` set (every 2-D tensor gets that type), and the first 512 weights of blk.0.ffn_gate.weight
of each result are copied into the fixture under the type's name ("q4_k").
"""
import ctypes
import json
import os
import sys
import tempfile

import llama_cpp
import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter
from gguf.quants import dequantize

HIDDEN, FFN, HEADS, KV_HEADS, VOCAB = 256, 512, 4, 2, 64
NUM_WEIGHTS = 512  # two rows of 256
TARGETS = {
    "q5_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_0,
    "q5_1": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_1,
    "q4_k": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_S,
    "q5_k": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_S,
    "q6_k": llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K,
}


def write_f32_model(path, rng):
    w = GGUFWriter(path, "llama")
    w.add_block_count(1)
    w.add_context_length(128)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(VOCAB)
    w.add_tokenizer_model("llama")
    w.add_token_list([f"<t{i}>" for i in range(VOCAB)])
    w.add_token_scores([0.0] * VOCAB)
    w.add_token_types([1] * VOCAB)
    head_dim = HIDDEN // HEADS
    shapes = {  # numpy shape (rows, columns) = ggml (ne1, ne0)
        "token_embd.weight": (VOCAB, HIDDEN),
        "output_norm.weight": (HIDDEN,),
        "output.weight": (VOCAB, HIDDEN),
        "blk.0.attn_norm.weight": (HIDDEN,),
        "blk.0.attn_q.weight": (HIDDEN, HIDDEN),
        "blk.0.attn_k.weight": (KV_HEADS * head_dim, HIDDEN),
        "blk.0.attn_v.weight": (KV_HEADS * head_dim, HIDDEN),
        "blk.0.attn_output.weight": (HIDDEN, HIDDEN),
        "blk.0.ffn_norm.weight": (HIDDEN,),
        "blk.0.ffn_gate.weight": (FFN, HIDDEN),
        "blk.0.ffn_up.weight": (FFN, HIDDEN),
        "blk.0.ffn_down.weight": (HIDDEN, FFN),
    }
    for name, shape in shapes.items():
        if len(shape) == 1:
            data = np.ones(shape, dtype=np.float32)
        else:  # varied magnitudes per row so scales and mins differ between sub-blocks
            data = rng.standard_normal(shape).astype(np.float32)
            data *= rng.uniform(0.01, 2.0, size=(shape[0], 1)).astype(np.float32)
            data += rng.uniform(-0.5, 0.5, size=(shape[0], 1)).astype(np.float32)
        w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def quantize(src, dst, ftype):
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.pure = True
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        sys.exit(f"llama_model_quantize failed ({rc}) for ftype {ftype}")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/data/formats"
    rng = np.random.default_rng(20261128)
    fixture = GGUFWriter(os.path.join(out_dir, "kquants.gguf"), "troupe-fixture")
    values = {"generator": "tools/kquant_reference.py", "tensors": []}
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "f32.gguf")
        write_f32_model(src, rng)
        for name, ftype in TARGETS.items():
            dst = os.path.join(tmp, f"{name}.gguf")
            quantize(src, dst, ftype)
            tensor = next(t for t in GGUFReader(dst).tensors if t.name == "blk.0.ffn_gate.weight")
            qtype = GGMLQuantizationType[name.upper()]
            assert tensor.tensor_type == qtype, (name, tensor.tensor_type)
            row_bytes = tensor.data.shape[1]  # uint8 rows of encoded blocks
            raw = np.ascontiguousarray(tensor.data[: NUM_WEIGHTS // 256]).reshape(-1)
            assert raw.size == row_bytes * (NUM_WEIGHTS // 256)
            fixture.add_tensor(name, raw.reshape(2, -1), raw_dtype=qtype)
            decoded = dequantize(raw.reshape(2, -1), qtype).astype(np.float32).reshape(-1)
            values["tensors"].append({"name": name, "type": qtype.name,
                                      "values": [float(v) for v in decoded]})
    fixture.write_header_to_file()
    fixture.write_kv_data_to_file()
    fixture.write_tensors_to_file()
    fixture.close()
    with open(os.path.join(out_dir, "kquants_values.json"), "w") as f:
        json.dump(values, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
