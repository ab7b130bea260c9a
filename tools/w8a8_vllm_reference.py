#!/usr/bin/env python3
"""vLLM's outputs on troupe's tiny W8A8 int8 checkpoints, for tests/integration/w8a8_vllm_test.cpp.

Usage: tools/w8a8_vllm_reference.py [--troupe build/bin/troupe]
           [--venv ~/.cache/troupe/peers/vllm-venv]
           [--out tests/data/reference/w8a8_vllm_reference.json]

1. Writes three checkpoints with `troupe make-model --family llama --seed 11` (tokenizer from
   tests/data/hf_models/tf5_llama3_rope, whose 304 ids lie inside make-model's vocabulary of 512;
   hidden 128, 4 heads of 32, as vLLM's CPU attention takes no head size below 32):
   `--quantization w8a8` (symmetric per-token activations), `--quantization w8a8-asym` (dynamic
   zero points: vLLM's azp path) and `--quantization none` (f32, the control).
2. Runs each through vLLM's offline LLM API on the CPU (vLLM 0.32's CPU build, the venv that
   tools/bench_peers.py installs; dtype float32 so activations are f32 as on troupe's CPU path;
   enforce_eager; one engine process), on fixed prompts given as token ids: greedy tokens
   (temperature 0, ignore_eos), the top --num-logprobs logprobs at every generated position and
   prompt_logprobs at every prompt position after the first.
3. Checks vLLM's log: a quantized checkpoint must have run CompressedTensorsW8A8Int8 through an
   int8 kernel (the kernel's name is recorded); anything else stops the script.
Writes the JSON the test reads: the make-model flags, vLLM's and torch's versions, the scheme and
kernel vLLM logged, the prompts, greedy ids and top logprobs. Run once; the JSON is committed.

--quant-probe instead counts, on random rows, how often vLLM's CPU per-token quantization
(onednn_scaled_int8_quant) gives another int8 than troupe's (kernels/cpu/gemm_w8a8.hpp, vLLM's
CUDA numerics), and checks the CPU's formula: inv = float(1.0 / double(scale)); symmetric
q = rn(x * inv); asymmetric azp = rn(-128 - min * inv), q = rn(x * inv + azp).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER = os.path.join(REPO, "tests", "data", "hf_models", "tf5_llama3_rope")
MODELS = [  # name, make-model --quantization
    ("w8a8", "w8a8"),
    ("w8a8_asym", "w8a8-asym"),
    ("f32", "none"),
]
FAMILY, SEED = "llama", 11
# vLLM's CPU attention takes head sizes 32, 64, 80, ... only (make-model's default is 16).
SIZES = {"hidden": 128, "heads": 4, "kv_heads": 2, "ffn": 256, "vocab": 512}
# Token ids in [2, 300): inside the tokenizer's vocabulary, no BOS/EOS.
PROMPTS = [
    [17, 203, 45, 99, 150, 8, 77],
    [5, 61, 288, 140, 33, 250, 19, 102, 7, 180, 64, 222],
    [12, 240, 91, 3, 170, 56, 299, 134, 28, 205, 73, 160, 41, 118, 266, 87, 9, 193, 58, 231, 110,
     37, 274, 66],
]
WORKER = """
import json, sys
import torch, vllm
from vllm import LLM, SamplingParams
model_dir, out_path = sys.argv[1], sys.argv[2]
num_tokens, num_logprobs = int(sys.argv[3]), int(sys.argv[4])
prompts = json.loads(sys.argv[5])
llm = LLM(model=model_dir, dtype="float32", max_model_len=128, enforce_eager=True, seed=0,
          max_num_seqs=4, max_num_batched_tokens=128)
params = SamplingParams(temperature=0.0, max_tokens=num_tokens, ignore_eos=True,
                        logprobs=num_logprobs, prompt_logprobs=num_logprobs, detokenize=False)
def top(d):
    items = sorted(d.items(), key=lambda kv: kv[1].rank)
    return [{"id": int(k), "logprob": float(v.logprob), "rank": int(v.rank)} for k, v in items]
results = []
for p in prompts:  # one at a time: each prompt's numerics alone, as the test runs them
    o = llm.generate([{"prompt_token_ids": p}], params, use_tqdm=False)[0]
    c = o.outputs[0]
    results.append({"prompt_ids": p, "greedy_ids": list(c.token_ids),
                    "logprobs": [top(d) for d in c.logprobs],
                    "prompt_logprobs": [top(d) for d in o.prompt_logprobs[1:]]})
def int8_paths(model):  # which method each int8 kernel chose at load: oneDNN or sgl's AMX kernel
    kernels = [getattr(getattr(m, "scheme", None), "kernel", None) for m in model.modules()]
    return sorted({k.linear_method.__name__ for k in kernels if hasattr(k, "linear_method")})
with open(out_path, "w") as f:
    json.dump({"vllm_version": vllm.__version__, "torch_version": torch.__version__,
               "int8_paths": sorted({p for w in llm.apply_model(int8_paths) for p in w}),
               "amx": bool(torch.cpu._is_amx_tile_supported()), "results": results}, f)
"""

QUANT_PROBE = """
import numpy as np, torch
from vllm import _custom_ops as ops
f = np.float32
def sat(q):
    return np.clip(q, -128, 127).astype(np.int32)
def cuda_numerics(x, sym):  # troupe's gemm_w8a8
    if sym:
        absmax = f(np.max(np.abs(x)))
        return sat(np.rint((x * f(f(127) / absmax)).astype(f)))
    mx, mn = f(max(np.finfo(f).tiny, x.max())), f(min(np.finfo(f).max, x.min()))
    scale = f(f(mx - mn) / f(255))
    azp = np.rint(f(f(-128) - f(mn / scale)))
    return sat(np.rint((x / scale).astype(f)) + azp)
def cpu_numerics(x, sym):  # vLLM's csrc/cpu, as measured here
    if sym:
        inv = f(1.0 / float(f(f(np.max(np.abs(x))) / f(127))))
        return sat(np.rint((x * inv).astype(f)))
    mx, mn = f(max(np.finfo(f).tiny, x.max())), f(min(np.finfo(f).max, x.min()))
    inv = f(1.0 / float(f(f(mx - mn) / f(255))))
    azp = f(np.rint(f(f(-128) - f(mn * inv))))
    return sat(np.rint((x * inv + azp).astype(f)))
rng = np.random.default_rng(0)
for sym in (True, False):
    rows = rng.standard_normal((20000, 256)).astype(f) * rng.uniform(0.1, 10, (20000, 1)).astype(f)
    q = ops.onednn_scaled_int8_quant(torch.from_numpy(rows), None, None, sym)[0].numpy()
    troupe = sum(int(np.sum(cuda_numerics(x, sym) != q[i])) for i, x in enumerate(rows))
    model = sum(int(np.sum(cpu_numerics(x, sym) != q[i])) for i, x in enumerate(rows))
    print(f"{'symmetric' if sym else 'asymmetric'}: {rows.size} elements: troupe's int8 differs "
          f"from vLLM CPU's at {troupe}, the CPU formula above at {model}")
"""


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def vllm_env(venv):
    env = dict(os.environ)
    env.update({"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_OMP_THREADS_BIND": "0-1",
                # The engine core in this process: its log lines land in our capture.
                "VLLM_ENABLE_V1_MULTIPROCESSING": "0"})
    # As tools/bench_peers.py: tcmalloc and Intel's OpenMP preloaded, as vLLM's CPU docs ask.
    preload = [p for p in ["/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
                           os.path.join(venv, "lib", "libiomp5.so")] if os.path.exists(p)]
    if preload:
        env["LD_PRELOAD"] = ":".join(preload)
    return env


def scheme_of(log_text, quantized):
    """The scheme and int8 kernel vLLM's log names; exits when a quantized model ran without."""
    scheme = re.search(r"CompressedTensorsW8A8Int8", log_text)
    kernel = re.search(r"Selected (\w+) for CompressedTensorsW8A8Int8", log_text)
    if not quantized:
        if scheme:
            sys.exit("vLLM ran the f32 control through CompressedTensorsW8A8Int8")
        return None, None
    if not (scheme and kernel):
        sys.exit("vLLM's log names no CompressedTensorsW8A8Int8 kernel; see the log above")
    return scheme.group(0), kernel.group(1)


def reference_for(name, quantization, a, work):
    model_dir = os.path.join(work, name)
    flags = ["--family", FAMILY, "--seed", str(SEED), "--quantization", quantization]
    for key, value in SIZES.items():
        flags += ["--" + key.replace("_", "-"), str(value)]
    run([a.troupe, "make-model", "--out", model_dir, "--tokenizer-from", TOKENIZER] + flags)
    out = os.path.join(work, name + ".json")
    log_path = os.path.join(work, name + ".log")
    with open(log_path, "w") as log:
        proc = subprocess.run([os.path.join(a.venv, "bin", "python"), "-c", WORKER, model_dir, out,
                               str(a.num_tokens), str(a.num_logprobs), json.dumps(PROMPTS)],
                              stdout=log, stderr=subprocess.STDOUT, env=vllm_env(a.venv))
    with open(log_path) as f:
        log_text = f.read()
    if proc.returncode != 0:
        print(log_text[-8000:])
        sys.exit(f"vLLM failed on {name} (exit {proc.returncode}); log above")
    scheme, kernel = scheme_of(log_text, quantization != "none")
    for line in log_text.splitlines():
        if re.search(r"W8A8|Int8|quantiz|compressed", line, re.I):
            print(f"  [{name}] {line.strip()}")
    with open(out) as f:
        got = json.load(f)
    return {"name": name, "make_model_flags": " ".join(flags), "family": FAMILY, "seed": SEED,
            "quantization": quantization, **SIZES, "vllm_scheme": scheme, "vllm_kernel": kernel,
            "vllm_int8_paths": got["int8_paths"], "cpu_amx": got["amx"],
            "vllm_version": got["vllm_version"], "torch_version": got["torch_version"],
            "results": got["results"]}


def write_json(doc, path):
    """Indented, with each {id, logprob, rank} on one line."""
    text = json.dumps(doc, indent=1)
    text = re.sub(r'\{\s*"id": (\d+),\s*"logprob": ([^,]+),\s*"rank": (\d+)\s*\}',
                  r'{"id": \1, "logprob": \2, "rank": \3}', text)
    text = re.sub(r'\[\s*((?:-?\d+,\s*)*-?\d+)\s*\]',
                  lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text)
    with open(path, "w") as f:
        f.write(text + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--troupe", default=os.path.join(REPO, "build", "bin", "troupe"))
    ap.add_argument("--venv", default=os.path.expanduser("~/.cache/troupe/peers/vllm-venv"))
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "data", "reference",
                                                  "w8a8_vllm_reference.json"))
    ap.add_argument("--num-tokens", type=int, default=16)
    ap.add_argument("--num-logprobs", type=int, default=5)
    ap.add_argument("--quant-probe", action="store_true",
                    help="only compare per-token quantizations on random rows (above)")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.venv, "bin", "python")):
        sys.exit(f"no vLLM venv at {a.venv} (python3 tools/bench_peers.py --install-only "
                 "--servers vllm makes it)")
    if a.quant_probe:
        subprocess.run([os.path.join(a.venv, "bin", "python"), "-c", QUANT_PROBE], check=True,
                       env=vllm_env(a.venv))
        return
    with tempfile.TemporaryDirectory(prefix="troupe-w8a8-vllm-") as work:
        models = [reference_for(name, q, a, work) for name, q in MODELS]
    doc = {"generator": "tools/w8a8_vllm_reference.py",
           "vllm_version": models[0]["vllm_version"], "torch_version": models[0]["torch_version"],
           "vllm_settings": {"dtype": "float32", "max_model_len": 128, "enforce_eager": True,
                             "temperature": 0.0, "ignore_eos": True, "device": "cpu"},
           "num_tokens": a.num_tokens, "num_logprobs": a.num_logprobs, "prompts": PROMPTS,
           "models": [{k: v for k, v in m.items() if k not in ("vllm_version", "torch_version")}
                      for m in models]}
    write_json(doc, a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
