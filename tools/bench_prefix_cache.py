#!/usr/bin/env python3
"""Prefix caching on against off, in one run, on the same binary, model and load (`troupe bench`).

    python3 tools/bench_prefix_cache.py [--troupe build/bin/troupe] [--model GGUF] [--repeats 3]

Two `troupe serve` processes start side by side, one with the prefix cache (the default) and one
with --no-enable-prefix-caching, same flags otherwise (--max-num-seqs 16
--max-num-batched-tokens 512). Only one is loaded at a time; the runs alternate off/on so drift of
the machine affects both alike. Each run starts with POST /reset_prefix_cache, and run i uses
--seed 7+i for both servers.

  high hit rate   --dataset-name prefix_repetition: 2 prefixes of 512 tokens, 16 random tokens
                  after them, 16 output tokens, one request at a time (--max-concurrency 1), so
                  time to first token is prefill time, not queueing. Target: mean TTFT off / on
                  at least 5.
  0% hit rate     --dataset-name random: 256 random tokens in, 64 out, 8 concurrent streams; no
                  two prompts share a block. Target: output tokens/s on / off within 2% of 1
                  (the cost of hashing, lookups and registration when nothing hits).

Printed: every run's mean/median TTFT and output tok/s, the medians over --repeats and the
ratios. Standard library only.
"""
import argparse
import os
import statistics
import tempfile
import urllib.request

from serve_bench import DEFAULT_MODEL, free_port, run_bench, start_server

SERVE_FLAGS = ["--max-num-seqs", "16", "--max-num-batched-tokens", "512", "--disable-log-requests",
               "--served-model-name", "smol"]


def reset_prefix_cache(port):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/reset_prefix_cache", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def bench(troupe, model, port, workload, out_dir, name, seed):
    # Every run starts from an empty cache, so earlier runs' prompts never hit.
    reset_prefix_cache(port)
    if workload == "hit":
        args = ["--dataset-name", "prefix_repetition", "--prefix-repetition-prefix-len", "512",
                "--prefix-repetition-suffix-len", "16", "--prefix-repetition-num-prefixes", "2",
                "--prefix-repetition-output-len", "16", "--num-prompts", "24",
                "--max-concurrency", "1"]
    else:
        args = ["--dataset-name", "random", "--random-input-len", "256", "--random-output-len",
                "64", "--num-prompts", "32", "--max-concurrency", "8"]
    return run_bench(troupe, model, port, out_dir, name, seed, args)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--troupe", default="build/bin/troupe")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    out_dir = tempfile.mkdtemp(prefix="troupe-prefix-bench-")
    ports = {"on": free_port(), "off": free_port()}
    extra = {"on": [], "off": ["--no-enable-prefix-caching"]}
    servers = {k: start_server(a.troupe, a.model, ports[k], SERVE_FLAGS + extra[k],
                               os.path.join(out_dir, f"serve-{k}.log")) for k in ports}
    results = {(w, k): [] for w in ("hit", "zero") for k in ("off", "on")}
    try:
        for rep in range(a.repeats):
            for workload in ("hit", "zero"):
                for k in ("off", "on"):
                    r = bench(a.troupe, a.model, ports[k], workload, out_dir,
                              f"{workload}-{k}-{rep}", seed=7 + rep)
                    results[(workload, k)].append(r)
                    print(f"run {rep} {workload:4} cache {k:3}: mean TTFT {r['mean_ttft_ms']:8.1f} ms"
                          f"  median TTFT {r['median_ttft_ms']:8.1f} ms"
                          f"  output {r['output_throughput']:7.1f} tok/s", flush=True)
    finally:
        for p in servers.values():
            p.terminate()
            p.wait()

    def med(workload, k, key):
        return statistics.median(r[key] for r in results[(workload, k)])

    print("\nmedians over", a.repeats, "runs")
    for workload in ("hit", "zero"):
        for k in ("off", "on"):
            print(f"  {workload:4} cache {k:3}: mean TTFT {med(workload, k, 'mean_ttft_ms'):8.1f} ms"
                  f"  median TTFT {med(workload, k, 'median_ttft_ms'):8.1f} ms"
                  f"  output {med(workload, k, 'output_throughput'):7.1f} tok/s")
    ttft_ratio = med("hit", "off", "mean_ttft_ms") / med("hit", "on", "mean_ttft_ms")
    p50_ratio = med("hit", "off", "median_ttft_ms") / med("hit", "on", "median_ttft_ms")
    tput_ratio = med("zero", "on", "output_throughput") / med("zero", "off", "output_throughput")
    print(f"\nhigh hit rate: mean TTFT off/on x{ttft_ratio:.2f} (median x{p50_ratio:.2f});"
          f" target >= 5")
    print(f"0% hit rate:   output tok/s on/off x{tput_ratio:.4f}; target within 0.98..1.02")
    print(f"result files: {out_dir}")


if __name__ == "__main__":
    main()
