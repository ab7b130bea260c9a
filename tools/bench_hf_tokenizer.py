#!/usr/bin/env python3
"""Encode throughput of troupe's tokenizer.json support against the Python `tokenizers`
package (the Rust library behind transformers), single-threaded, on the same corpus; prints the
ratio (> 1: troupe is faster).

Usage: tools/bench_hf_tokenizer.py [--build build] [--seconds 2] [TOKENIZER_DIR ...]
Needs: the hf_tokenizer_bench target built in BUILD (benchmarks/), `pip install tokenizers`.
Default tokenizers and corpus: ../shared/testdata/tokenizers/{llama2,llama3,qwen3,gemma3}.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "testdata", "tokenizers")


def python_encode_rate(tokenizer_dir, texts, seconds):
    from tokenizers import Tokenizer
    start = time.perf_counter()
    tok = Tokenizer.from_file(os.path.join(tokenizer_dir, "tokenizer.json"))
    load_s = time.perf_counter() - start
    num_bytes = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for text in texts:
            tok.encode(text, add_special_tokens=False)
            num_bytes += len(text.encode("utf-8"))
    return load_s, num_bytes / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--corpus", default=os.path.join(SHARED, "corpus.jsonl"))
    parser.add_argument("dirs", nargs="*")
    args = parser.parse_args()
    dirs = args.dirs or [os.path.join(SHARED, n) for n in ("llama2", "llama3", "qwen3", "gemma3")]
    bench = os.path.join(args.build, "benchmarks", "hf_tokenizer_bench")
    if not os.path.exists(bench):
        sys.exit(f"{bench} not found: cmake --build {args.build} --target hf_tokenizer_bench")
    texts = [json.loads(line)["text"] for line in open(args.corpus, encoding="utf-8")]
    print(f"{'tokenizer':<12} {'troupe MB/s':>12} {'tokenizers MB/s':>16} {'ratio':>7} "
          f"{'load troupe s':>14} {'load py s':>10}")
    for d in dirs:
        out = subprocess.run([bench, d, args.corpus, str(args.seconds)], check=True,
                             capture_output=True, text=True).stdout
        ours = json.loads(out)
        py_load, py_rate = python_encode_rate(d, texts, args.seconds)
        print(f"{os.path.basename(d.rstrip('/')):<12} {ours['encode_bytes_per_s'] / 1e6:>12.2f} "
              f"{py_rate / 1e6:>16.2f} {ours['encode_bytes_per_s'] / py_rate:>7.2f} "
              f"{ours['load_s']:>14.2f} {py_load:>10.2f}")


if __name__ == "__main__":
    main()
