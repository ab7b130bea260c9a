#!/usr/bin/env python3
"""Independent numpy reference for troupe's Hugging Face model path.

For each tiny model of MODELS it runs `troupe make-model` (same seed and sizes as
tests/runtime/model/hf_parity_test.cpp), reads config.json and model.safetensors with its own
parser, and computes the forward in float64 from the Hugging Face semantics:
  embedding -> per layer: RMSNorm, q/k/v projections (+ bias for Qwen2), neox RoPE
  (rotate_half) with the config's rope_scaling, causal GQA attention limited to the sliding
  window (a query at p sees keys in (p - window, p]), o_proj, residual, RMSNorm, SwiGLU MLP,
  residual -> final RMSNorm -> lm_head (or tied embed_tokens).
RoPE scaling (config.json's rope_scaling, or transformers 5's rope_parameters) follows
transformers' rope init functions (linear, llama3, yarn); "dynamic" uses
vLLM's static NTK base (the context stretched to factor x max_position_embeddings), as troupe
does, since transformers' per-batch rescaling is not batch invariant.

Writes tests/data/hf_models/reference_logprobs.json: per model, per prompt, the top-5 log-probs
at every 50th position and the last, and 8 greedy tokens continuing the prompt.

usage: python3 tools/hf_reference_logits.py --troupe build/bin/troupe [--out FILE]
"""
import argparse
import json
import math
import os
import struct
import subprocess
import tempfile

import numpy as np

MODELS = [
    {"name": "llama_llama3", "family": "llama", "seed": 11, "hidden": 64, "layers": 2, "heads": 4,
     "kv_heads": 2, "head_dim": 0, "vocab": 256, "ffn": 128, "sliding_window": 0,
     "rope_theta": 10000.0, "tie_word_embeddings": False, "dtype": "float32",
     "rope_scaling": "llama3:factor=8,low_freq_factor=1,high_freq_factor=4,"
                     "original_max_position_embeddings=64"},
    {"name": "mistral_window_yarn", "family": "mistral", "seed": 12, "hidden": 64, "layers": 2,
     "heads": 4, "kv_heads": 1, "head_dim": 32, "vocab": 320, "ffn": 96, "sliding_window": 48,
     "rope_theta": 10000.0, "tie_word_embeddings": False, "dtype": "float32",
     "rope_scaling": "yarn:factor=4,original_max_position_embeddings=128"},
    {"name": "qwen2_bias_dynamic_bf16", "family": "qwen2", "seed": 13, "hidden": 64, "layers": 2,
     "heads": 4, "kv_heads": 2, "head_dim": 0, "vocab": 300, "ffn": 128, "sliding_window": 0,
     "rope_theta": 1000000.0, "tie_word_embeddings": True, "dtype": "bfloat16",
     "rope_scaling": "dynamic:factor=2"},
    {"name": "llama_plain_f16", "family": "llama", "seed": 14, "hidden": 64, "layers": 3,
     "heads": 8, "kv_heads": 8, "head_dim": 0, "vocab": 200, "ffn": 160, "sliding_window": 0,
     "rope_theta": 10000.0, "tie_word_embeddings": False, "dtype": "float16",
     "rope_scaling": "none"},
]
PROMPT_LENGTHS = [1, 7, 64, 200, 600]
NUM_GREEDY = 8
TOP_K = 5
STRIDE = 50


def make_model(troupe, m, out):
    args = [troupe, "make-model", "--family", m["family"], "--out", out, "--seed", str(m["seed"]),
            "--hidden", str(m["hidden"]), "--layers", str(m["layers"]), "--heads", str(m["heads"]),
            "--kv-heads", str(m["kv_heads"]), "--vocab", str(m["vocab"]), "--ffn", str(m["ffn"]),
            "--rope-theta", repr(m["rope_theta"]), "--rope-scaling", m["rope_scaling"],
            "--dtype", m["dtype"]]
    if m["head_dim"]:
        args += ["--head-dim", str(m["head_dim"])]
    if m["sliding_window"]:
        args += ["--sliding-window", str(m["sliding_window"])]
    if m["tie_word_embeddings"]:
        args += ["--tie-word-embeddings"]
    subprocess.run(args, check=True)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        begin, end = t["data_offsets"]
        raw = data[base + begin:base + end]
        if t["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif t["dtype"] == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif t["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(t["dtype"])
        tensors[name] = a.astype(np.float64).reshape(t["shape"])
    return tensors


def rope_settings(cfg):
    """rope_theta and the RoPE dict of either layout (transformers 5 nests both in rope_parameters)."""
    rp = cfg.get("rope_parameters")
    if rp:
        return float(rp.get("rope_theta", cfg.get("rope_theta", 10000.0))), rp
    return float(cfg.get("rope_theta", 10000.0)), cfg.get("rope_scaling") or {}


def inv_frequencies(cfg, d):
    base, rs = rope_settings(cfg)
    kind = rs.get("rope_type", rs.get("type", "default"))
    factor = float(rs.get("factor", 1.0))
    max_pos = cfg["max_position_embeddings"]
    orig = rs.get("original_max_position_embeddings") or max_pos
    if kind == "dynamic":
        max_len = max_pos * factor
        base = base * ((factor * max_len / max_pos) - (factor - 1)) ** (d / (d - 2))
    inv = 1.0 / base ** (np.arange(0, d, 2, dtype=np.float64) / d)
    attention = 1.0
    if kind == "linear":
        inv = inv / factor
    elif kind == "llama3":
        lo_f, hi_f = float(rs["low_freq_factor"]), float(rs["high_freq_factor"])
        low_wavelen, high_wavelen = orig / lo_f, orig / hi_f
        wavelen = 2 * math.pi / inv
        scaled = np.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (orig / wavelen - lo_f) / (hi_f - lo_f)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        inv = np.where(medium, smoothed, scaled)
    elif kind == "yarn":
        beta_fast, beta_slow = rs.get("beta_fast", 32), rs.get("beta_slow", 1)

        def corr_dim(rot):
            return (d * math.log(orig / (rot * 2 * math.pi))) / (2 * math.log(base))

        low = max(math.floor(corr_dim(beta_fast)), 0)
        high = min(math.ceil(corr_dim(beta_slow)), d - 1)
        if low == high:
            high += 0.001
        ramp = np.clip((np.arange(d // 2, dtype=np.float64) - low) / (high - low), 0, 1)
        extrapolation = 1 - ramp
        inv = (inv / factor) * (1 - extrapolation) + inv * extrapolation
        attention = rs.get("attention_factor") or (0.1 * math.log(factor) + 1.0
                                                   if factor > 1 else 1.0)
    return inv, attention


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rotate(x, cos, sin):  # x [T, heads, d]; neox pairs (i, i + d/2)
    half = x.shape[-1] // 2
    rot = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos[:, None, :] + rot * sin[:, None, :]


def forward(cfg, w, ids):
    hidden = cfg["hidden_size"]
    nh, nkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    d = cfg.get("head_dim") or hidden // nh
    eps = cfg.get("rms_norm_eps", 1e-6)
    window = cfg.get("sliding_window") if cfg["model_type"] == "mistral" else None
    T = len(ids)
    inv, attention = inv_frequencies(cfg, d)
    angles = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
    cos = np.concatenate([np.cos(angles)] * 2, axis=-1) * attention
    sin = np.concatenate([np.sin(angles)] * 2, axis=-1) * attention
    pos = np.arange(T)
    mask = pos[None, :] <= pos[:, None]
    if window:
        mask &= pos[None, :] > pos[:, None] - window
    x = w["model.embed_tokens.weight"][ids]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        proj = {}
        for name in "qkv":
            y = h @ w[p + f"self_attn.{name}_proj.weight"].T
            bias = w.get(p + f"self_attn.{name}_proj.bias")
            proj[name] = y + bias if bias is not None else y
        q = rotate(proj["q"].reshape(T, nh, d), cos, sin)
        k = rotate(proj["k"].reshape(T, nkv, d), cos, sin)
        v = proj["v"].reshape(T, nkv, d)
        out = np.empty((T, nh, d))
        for head in range(nh):
            g = head // (nh // nkv)
            s = (q[:, head, :] @ k[:, g, :].T) / math.sqrt(d)
            s = np.where(mask, s, -np.inf)
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            out[:, head, :] = (s / s.sum(axis=-1, keepdims=True)) @ v[:, g, :]
        x = x + out.reshape(T, nh * d) @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else w["lm_head.weight"]
    logits = x @ head.T
    m = logits.max(axis=-1, keepdims=True)
    return logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))


def reference_for(cfg, w, ids):
    lp = forward(cfg, w, ids)
    positions = sorted(set(range(0, len(ids), STRIDE)) | {len(ids) - 1})
    top = []
    for p in positions:
        order = np.argsort(-lp[p], kind="stable")[:TOP_K]
        top.append([[int(i), round(float(lp[p][i]), 6)] for i in order])
    seq, greedy, margins = list(ids), [], []
    for _ in range(NUM_GREEDY):
        last = forward(cfg, w, seq)[-1]
        order = np.argsort(-last, kind="stable")
        margins.append(float(last[order[0]] - last[order[1]]))
        greedy.append(int(order[0]))
        seq.append(int(order[0]))
    return {"ids": [int(i) for i in ids], "positions": positions, "top": top, "greedy": greedy,
            "min_greedy_margin": round(min(margins), 6)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--troupe", required=True)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "data", "hf_models",
                                                  "reference_logprobs.json"))
    args = ap.parse_args()
    result = {"generator": "tools/hf_reference_logits.py (numpy float64)", "models": []}
    with tempfile.TemporaryDirectory() as tmp:
        for m in MODELS:
            out = os.path.join(tmp, m["name"])
            make_model(args.troupe, m, out)
            with open(os.path.join(out, "config.json")) as f:
                cfg = json.load(f)
            w = read_safetensors(os.path.join(out, "model.safetensors"))
            rng = np.random.default_rng(m["seed"])
            prompts = []
            for n in PROMPT_LENGTHS:
                ids = rng.integers(0, cfg["vocab_size"], size=n)
                prompts.append(reference_for(cfg, w, ids))
                print(m["name"], n, "min greedy margin", prompts[-1]["min_greedy_margin"])
            result["models"].append({"spec": m, "prompts": prompts})
    with open(args.out, "w") as f:
        json.dump(result, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
