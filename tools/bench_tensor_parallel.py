#!/usr/bin/env python3
"""What tensor, pipeline (and data) parallelism cost on one machine: `troupe serve
--tensor-parallel-size 2` with one compute thread per rank against `--tensor-parallel-size 1` with
both threads, at full load, in one run on the same binary and model (`troupe bench`).

    python3 tools/bench_tensor_parallel.py [--troupe build/bin/troupe] [--model GGUF] [--repeats 6]
        [--sides tp1,tp2,pp2,dp2,dp2-ll] [--prefix-repetition N]

--sides picks what runs (the first is the baseline every other side is compared with): tp1, tp2,
pp2 (`--pipeline-parallel-size 2`: two stages of one thread each, pinned, up to two steps in
flight carrying different requests), dp2 (`--data-parallel-size 2`: two engines of one thread
each, pinned, each with its own batcher and KV cache and `--max-num-seqs 8`, so 16 running in all
as on the other sides; requests go to the least loaded engine, or near it to the engine that
routed the prompt's prefix before: --data-parallel-routing prefix-aware, the default), dp2-ll
(the same with `--data-parallel-routing least-loaded`, vLLM's rule alone).

Both sides get `--threads 2` (the compute threads in all): TP=1 runs one executor whose kernels
split across its 2 threads; TP=2 runs two executors, each rank on 1 thread pinned to its own CPU,
joined by the shared-memory communicator (two all-reduces per layer, the logits gathered). Same
flags otherwise (--max-num-seqs 16 --max-num-batched-tokens 512). Each run starts its own server
(tools/serve_bench.py says why) and the order alternates, so drift affects both alike. Run i uses
--seed 7+i for both, after 2 warm-up requests.

  full load   --dataset-name random: 128 random tokens in, 64 out (--input-len, --output-len),
              --num-prompts 32 sent at once (--request-rate inf), so the running batch stays at
              --max-num-seqs. With --input-len 16 the first step admits 16 prompts at once (a
              burst that becomes ready together).
  shared      --prefix-repetition N: the prefix_repetition dataset instead, N distinct prefixes of
              --input-len tokens, each request one of them and 32 random tokens; the
              servers' prefix cache hit rate (vllm:prefix_cache_hits / queries, all engines) is
              printed with each run.

Target (issue 10): output tokens/s at TP=2 / TP=1 at least 0.9 (communication and the ranks
waiting for each other cost under 10%). The load generator runs on the same 2 cores, as it does
for every comparison in docs/performance.md.
Printed: every run's output and total tok/s, the medians over --repeats, the ratio of the medians
and the median of the per-repeat ratios.
Standard library only.
"""
import argparse
import os
import tempfile

import re

from serve_bench import (DEFAULT_MODEL, free_port, metrics_text, print_comparison, run_bench,
                         start_server)

SERVE_FLAGS = ["--max-num-seqs", "16", "--max-num-batched-tokens", "512", "--disable-log-requests",
               "--served-model-name", "smol", "--threads", "2"]
SIDES = {"tp1": ["--tensor-parallel-size", "1"], "tp2": ["--tensor-parallel-size", "2"],
         "pp2": ["--pipeline-parallel-size", "2"],
         "dp2": ["--data-parallel-size", "2", "--max-num-seqs", "8"],
         "dp2-ll": ["--data-parallel-size", "2", "--max-num-seqs", "8",
                    "--data-parallel-routing", "least-loaded"]}
TARGETS = {"tp2": 0.9, "pp2": 0.9}
WORKLOAD = ["--num-warmups", "2", "--dataset-name", "random", "--request-rate", "inf"]


def prefix_hit_rate(port):
    """Prefix cache hits / queries over every engine, from GET /metrics; None without it."""
    text = metrics_text(port)
    if text is None:
        return None
    sums = {"hits": 0.0, "queries": 0.0}
    for line in text.splitlines():
        m = re.match(r"vllm:prefix_cache_(hits|queries)_total\{[^}]*\} (\S+)", line)
        if m:
            sums[m.group(1)] += float(m.group(2))
    return sums["hits"] / sums["queries"] if sums["queries"] else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--troupe", default="build/bin/troupe")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--repeats", type=int, default=6)
    ap.add_argument("--num-prompts", type=int, default=32)
    ap.add_argument("--input-len", type=int, default=128, help="random prompt tokens")
    ap.add_argument("--output-len", type=int, default=64, help="output tokens (EOS ignored)")
    ap.add_argument("--sides", default="tp1,tp2", help="comma-separated, baseline first: "
                    + ", ".join(SIDES))
    ap.add_argument("--prefix-repetition", type=int, default=0, metavar="N",
                    help="N shared prefixes of --input-len tokens instead of random prompts")
    a = ap.parse_args()
    sides = a.sides.split(",")
    if len(sides) < 2 or any(k not in SIDES for k in sides):
        ap.error(f"--sides: two or more of {', '.join(SIDES)}")
    out_dir = tempfile.mkdtemp(prefix="troupe-tp-bench-")
    results = {k: [] for k in sides}
    for rep in range(a.repeats):
        for k in (sides if rep % 2 == 0 else sides[::-1]):
            port = free_port()
            server = start_server(a.troupe, a.model, port, SERVE_FLAGS + SIDES[k],
                                  os.path.join(out_dir, f"serve-{k}-{rep}.log"))
            try:
                if a.prefix_repetition:
                    load = ["--num-warmups", "0", "--request-rate", "inf", "--dataset-name",
                            "prefix_repetition", "--prefix-repetition-num-prefixes",
                            str(a.prefix_repetition), "--prefix-repetition-prefix-len",
                            str(a.input_len), "--prefix-repetition-suffix-len", "32",
                            "--prefix-repetition-output-len", str(a.output_len)]
                else:
                    load = WORKLOAD + ["--random-input-len", str(a.input_len),
                                       "--random-output-len", str(a.output_len)]
                r = run_bench(a.troupe, a.model, port, out_dir, f"{k}-{rep}", 7 + rep,
                              load + ["--num-prompts", str(a.num_prompts)])
                r["hit_rate"] = prefix_hit_rate(port)
            finally:
                server.terminate()
                server.wait()
            results[k].append(r)
            print(f"run {rep} {k}: output {r['output_throughput']:7.1f} tok/s"
                  f"  total {r['total_token_throughput']:7.1f} tok/s"
                  f"  mean TTFT {r['mean_ttft_ms']:8.1f} ms  mean TPOT {r['mean_tpot_ms']:7.1f} ms"
                  + (f"  prefix hit rate {r['hit_rate']:.3f}" if r["hit_rate"] is not None
                     else ""), flush=True)

    for k in sides[1:]:
        print_comparison(results, k, sides[0], f"{k} / {sides[0]}", TARGETS.get(k, 0.9),
                         a.repeats)
    print(f"result files and server logs: {out_dir}")


if __name__ == "__main__":
    main()
