"""What the tools/bench_*.py scripts share: a `troupe serve` per run and `troupe bench` against it.

Each comparison starts a fresh server per run (a long-lived process keeps its memory layout, which
alone moves throughput by a few percent) and reads `troupe bench`'s result JSON (vLLM's keys).
Standard library only.
"""
import json
import os
import re
import socket
import statistics
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


def print_comparison(results, new, base, label, target, repeats):
    """Medians of each side's runs, then `new`/`base` output tok/s: the ratio of the medians and
    the median of the per-repeat ratios (each repeat's two runs are back to back)."""
    def med(k, key):
        return statistics.median(r[key] for r in results[k])

    print("\nmedians over", repeats, "runs")
    for k in (new, base):
        print(f"  {k:6}: output {med(k, 'output_throughput'):7.1f} tok/s"
              f"  total {med(k, 'total_token_throughput'):7.1f} tok/s"
              f"  mean TTFT {med(k, 'mean_ttft_ms'):8.1f} ms"
              f"  mean TPOT {med(k, 'mean_tpot_ms'):7.1f} ms")
    ratio = med(new, "output_throughput") / med(base, "output_throughput")
    total_ratio = med(new, "total_token_throughput") / med(base, "total_token_throughput")
    pairs = [n["output_throughput"] / b["output_throughput"]
             for n, b in zip(results[new], results[base])]
    print(f"\noutput tok/s {label}: ratio of medians x{ratio:.4f} (total tok/s x{total_ratio:.4f}),"
          f" median of per-repeat ratios x{statistics.median(pairs):.4f}"
          f" (each: {' '.join(f'{p:.3f}' for p in pairs)}); target >= {target}")


def metrics_text(port):
    """The server's GET /metrics as Prometheus text (asked for as text/plain), or None."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                 headers={"Accept": "text/plain"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.read().decode()
    except OSError:
        return None


def step_phase_means(port):
    """Mean seconds per step phase from troupe_step_seconds, or None without GET /metrics."""
    text = metrics_text(port)
    if text is None:
        return None
    sums, counts = {}, {}
    if text.startswith("{"):  # the JSON snapshot (docs/telemetry.md)
        for family in json.loads(text).get("metrics", []):
            if family.get("name") != "troupe_step_seconds":
                continue
            for sample in family.get("samples", []):
                phase = sample["labels"].get("phase")
                sums[phase], counts[phase] = sample["sum"], sample["count"]
    for line in text.splitlines():
        m = re.match(r'troupe_step_seconds_(sum|count)\{phase="(\w+)"\} (\S+)', line)
        if m:
            (sums if m.group(1) == "sum" else counts)[m.group(2)] = float(m.group(3))
    return {p: sums[p] / counts[p] for p in sums if counts.get(p)}
