"""What the tools/bench_*.py scripts share: a `troupe serve` per run and `troupe bench` against it.

Each comparison starts a fresh server per run (a long-lived process keeps its memory layout, which
alone moves throughput by a few percent) and reads `troupe bench`'s result JSON (vLLM's keys).
Standard library only.
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

DEFAULT_MODEL = os.path.expanduser("~/.cache/troupe/models/SmolLM2-135M-Instruct.Q4_1.gguf")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(troupe, model, port, flags, log_path):
    """`troupe serve --model MODEL --port PORT FLAGS...`, once GET /health answers."""
    log = open(log_path, "w")
    proc = subprocess.Popen([troupe, "serve", "--model", model, "--port", str(port)] + flags,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited early; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    sys.exit(f"server did not become healthy; see {log_path}")


def run_bench(troupe, model, port, out_dir, name, seed, workload):
    """`troupe bench` (--ignore-eos, served model "smol") with the `workload` flags; its result."""
    args = [troupe, "bench", "--base-url", f"http://127.0.0.1:{port}", "--model", model,
            "--served-model-name", "smol", "--ignore-eos", "--seed", str(seed), "--disable-tqdm",
            "--save-result", "--result-dir", out_dir, "--result-filename", name + ".json"]
    subprocess.run(args + workload, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out_dir, name + ".json")) as f:
        return json.load(f)
