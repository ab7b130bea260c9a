#!/usr/bin/env python3
"""What telemetry costs: `troupe serve` with it (the default) against --disable-log-stats, at full
load, in one run on the same binary and model (`troupe bench`).

    python3 tools/bench_telemetry.py [--troupe build/bin/troupe] [--model GGUF] [--repeats 8]

Each run starts its own `troupe serve`, as is (vLLM's metrics, the periodic stats line, actor and
step figures) or with --disable-log-stats (actor and step figures only, no vllm:* metrics, no
stats line), same flags otherwise (--max-num-seqs 16 --max-num-batched-tokens 512), and stops it
afterwards: a server process keeps its memory layout (the alignment of its weight arrays) for
life, which alone moves its throughput by a few percent, so one long-lived server per side would
measure that. The order alternates (on/off, off/on, ...) so drift of the machine affects both
alike. Run i uses --seed 7+i for both, after 2 warm-up requests.

  full load   --dataset-name random: 128 random tokens in, 64 out, --num-prompts 32 sent at once
              (--request-rate inf), so the running batch stays at --max-num-seqs and the
              waiting queue is full most of the run.

Target: output tokens/s with telemetry / without at least 0.98 (telemetry costs under 2%).
Printed: every run's output and total tok/s, the medians over --repeats, the ratio of the
medians and the median of the per-repeat ratios (each repeat's two runs are back to back, so
that one is the least sensitive to other load on the machine); the "on" server's step-phase
means from GET /metrics when the server has that endpoint.
Standard library only.
"""
import argparse
import os
import tempfile

from serve_bench import (DEFAULT_MODEL, free_port, print_comparison, run_bench, start_server,
                         step_phase_means)

SERVE_FLAGS = ["--max-num-seqs", "16", "--max-num-batched-tokens", "512",
               "--served-model-name", "smol"]


def bench(troupe, model, port, out_dir, name, seed, num_prompts):
    return run_bench(troupe, model, port, out_dir, name, seed,
                     ["--num-warmups", "2", "--dataset-name", "random", "--random-input-len",
                      "128", "--random-output-len", "64", "--num-prompts", str(num_prompts),
                      "--request-rate", "inf"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--troupe", default="build/bin/troupe")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--num-prompts", type=int, default=32)
    a = ap.parse_args()
    out_dir = tempfile.mkdtemp(prefix="troupe-telemetry-bench-")
    extra = {"on": [], "off": ["--disable-log-stats"]}
    results = {"on": [], "off": []}
    phases = None
    for rep in range(a.repeats):
        order = ("on", "off") if rep % 2 == 0 else ("off", "on")
        for k in order:
            port = free_port()
            server = start_server(a.troupe, a.model, port, SERVE_FLAGS + extra[k],
                                  os.path.join(out_dir, f"serve-{k}-{rep}.log"))
            try:
                r = bench(a.troupe, a.model, port, out_dir, f"{k}-{rep}", 7 + rep, a.num_prompts)
                if k == "on":
                    phases = step_phase_means(port) or phases
            finally:
                server.terminate()
                server.wait()
            results[k].append(r)
            print(f"run {rep} telemetry {k:3}: output {r['output_throughput']:7.1f} tok/s"
                  f"  total {r['total_token_throughput']:7.1f} tok/s"
                  f"  mean TTFT {r['mean_ttft_ms']:8.1f} ms", flush=True)

    print_comparison(results, "on", "off", "on/off", 0.98, a.repeats)
    if phases:
        print("step phases (telemetry on, mean per step): " +
              ", ".join(f"{p} {v * 1000:.3f} ms" for p, v in sorted(phases.items())))
    print(f"result files and server logs: {out_dir}")


if __name__ == "__main__":
    main()
