#!/usr/bin/env python3
"""Async scheduling against synchronous, in one run on the same binary, model and loads
(`troupe serve --async-scheduling` vs without; `troupe bench`).

    python3 tools/bench_async_scheduling.py [--troupe build/bin/troupe] [--model GGUF]
                                            [--repeats 4] [--flags "..."]

With --async-scheduling the batcher schedules step N+1 and sends it while step N runs, so the
executor finds it in its mailbox when step N ends: the scheduling, the KV allocator's round trip
and the token deltas of each step leave the executor's critical path. What that is worth depends
on how long those take against a step: on a GPU a decode step of a small batch takes a few
milliseconds; on this CPU one takes tens.

Each run starts its own server (same flags, --max-num-seqs 16 --max-num-batched-tokens 512 plus
--flags) and stops it afterwards; the order alternates so drift affects both alike; run i uses
--seed 7+i for both.

  full load   128 random tokens in, 64 out, 32 prompts sent at once (16 streams decode together)
  one stream  128 in, 64 out, 8 prompts one at a time (--max-concurrency 1): TPOT

Printed: every run's figures, the medians, the full-load output tok/s ratio async / sync, the
one-stream TPOT ratio, and each side's mean step phases (troupe_step_seconds) from GET /metrics.
Standard library only.
"""
import argparse
import os
import statistics
import tempfile

from serve_bench import (DEFAULT_MODEL, free_port, print_comparison, run_bench, start_server,
                         step_phase_means)

SERVE_FLAGS = ["--max-num-seqs", "16", "--max-num-batched-tokens", "512",
               "--served-model-name", "smol", "--disable-log-requests"]
WORKLOADS = {
    "full": ["--num-warmups", "2", "--dataset-name", "random", "--random-input-len", "128",
             "--random-output-len", "64", "--num-prompts", "32", "--request-rate", "inf"],
    "one": ["--num-warmups", "1", "--dataset-name", "random", "--random-input-len", "128",
            "--random-output-len", "64", "--num-prompts", "8", "--max-concurrency", "1"],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--troupe", default="build/bin/troupe")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--flags", default="", help="more `troupe serve` flags for both sides")
    a = ap.parse_args()
    out_dir = tempfile.mkdtemp(prefix="troupe-async-bench-")
    extra = {"async": ["--async-scheduling"], "sync": []}
    results = {(w, k): [] for w in WORKLOADS for k in extra}
    phases = {}
    for rep in range(a.repeats):
        order = ("async", "sync") if rep % 2 == 0 else ("sync", "async")
        for k in order:
            port = free_port()
            server = start_server(a.troupe, a.model, port, SERVE_FLAGS + a.flags.split() + extra[k],
                                  os.path.join(out_dir, f"serve-{k}-{rep}.log"))
            try:
                for w, workload in WORKLOADS.items():
                    r = run_bench(a.troupe, a.model, port, out_dir, f"{w}-{k}-{rep}", 7 + rep,
                                  workload)
                    results[(w, k)].append(r)
                    print(f"run {rep} {w:4} {k:5}: output {r['output_throughput']:7.1f} tok/s"
                          f"  mean TTFT {r['mean_ttft_ms']:7.1f} ms"
                          f"  mean TPOT {r['mean_tpot_ms']:6.2f} ms", flush=True)
                phases[k] = step_phase_means(port) or phases.get(k)
            finally:
                server.terminate()
                server.wait()

    full = {k: results[("full", k)] for k in extra}
    print_comparison(full, "async", "sync", "async/sync (full load)", 1.0, a.repeats)
    tpot = {k: statistics.median(r["mean_tpot_ms"] for r in results[("one", k)]) for k in extra}
    print(f"one stream: median mean TPOT async {tpot['async']:.2f} ms, sync {tpot['sync']:.2f} ms"
          f" (async/sync x{tpot['async'] / tpot['sync']:.4f})")
    for k in extra:
        if phases.get(k):
            print(f"step phases ({k}, mean per step, both loads): " +
                  ", ".join(f"{p} {v * 1000:.3f} ms" for p, v in sorted(phases[k].items())))
    print(f"result files and server logs: {out_dir}")


if __name__ == "__main__":
    main()
