#!/usr/bin/env python3
"""Reads result JSON files written by vLLM's benchmark_serving.py / `vllm bench serve` or by
`troupe bench` the same way and prints their common summary side by side, one column per file;
then, for each later file, the first file's keys it lacks or holds with another JSON type.
Exit status 1 when any is missing or differs, so it doubles as an interchangeability check.

Usage: tools/bench_result_keys.py REFERENCE.json [OTHER.json ...]
  e.g. tools/bench_result_keys.py tests/data/loadgen/benchmark_serving_result.json \
           results/vllm-10.0qps-model-20261128-184732.json
Only the standard library is needed.
"""
import json
import sys

SUMMARY = ["backend", "model_id", "num_prompts", "request_rate", "burstiness",
           "max_concurrency", "duration", "completed", "total_input_tokens",
           "total_output_tokens", "request_throughput", "request_goodput",
           "output_throughput", "total_token_throughput"]
METRICS = ["ttft", "tpot", "itl", "e2el"]


def kind(value):
    """The JSON type as json.load gives it; bool before int (bool is an int in Python)."""
    for name, types in (("null", type(None)), ("bool", bool), ("int", int), ("float", float),
                        ("string", str), ("array", list), ("object", dict)):
        if isinstance(value, types):
            return name
    return type(value).__name__


def get(result, key):
    # The standalone benchmark_serving.py of early 2025 wrote "request_goodput:" (sic).
    if key == "request_goodput" and key not in result:
        key = "request_goodput:"
    return result.get(key, "-")


def metric_keys(result):
    keys = []
    for metric in METRICS:
        keys += sorted((k for k in result if k.endswith(f"_{metric}_ms")),
                       key=lambda k: (k.split("_")[0] not in ("mean", "median", "std"), k))
    return keys


def show(value):
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return f"[{len(value)} items]"
    return str(value)


def mismatches(reference, other):
    out = []
    for key, value in reference.items():
        if key not in other:
            out.append(f"missing {key!r}")
        elif kind(other[key]) != kind(value):
            out.append(f"{key!r}: {kind(value)} here, {kind(other[key])} there")
        elif isinstance(value, list) and len(value) == reference.get("num_prompts") and \
                len(other[key]) != other.get("num_prompts"):
            out.append(f"{key!r}: {len(other[key])} entries for {other.get('num_prompts')} prompts")
    return out


def main(paths):
    if not paths:
        print(__doc__.strip())
        return 2
    results = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            results.append(json.load(f))
    rows = SUMMARY + [k for k in metric_keys(results[0])]
    for i, path in enumerate(paths):
        print(f"[{i}] {path}")
    print(f"{'key':<28}" + "".join(f"{f'[{i}]':>22}" for i in range(len(paths))))
    for key in rows:
        print(f"{key:<28}" + "".join(f"{show(get(r, key)):>22}" for r in results))
    status = 0
    for i, other in enumerate(results[1:], start=1):
        problems = mismatches(results[0], other)
        extra = [k for k in other if k not in results[0]]
        print(f"[{i}] against [0]: " + ("every key, same types" if not problems
                                        else "; ".join(problems)))
        print(f"[{i}] only: {', '.join(extra) if extra else '-'}")
        status = status or (1 if problems else 0)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
