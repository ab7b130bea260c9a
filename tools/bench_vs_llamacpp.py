#!/usr/bin/env python3
"""Compare `troupe serve` with llama.cpp's server on the same GGUF, same threads, same prompts.

    python3 tools/bench_vs_llamacpp.py [--troupe build/bin/troupe] [--model GGUF] [--threads 2]
    python3 tools/bench_vs_llamacpp.py --only-llamacpp      # exercise the harness without troupe

Each server runs alone, one after the other, on its own free loopback port. For each server and
each concurrency (1 and 16 by default) the same prompts go out as streaming /v1/completions
requests (temperature 0, --max-tokens each, EOS ignored: `ignore_eos` for troupe as in vLLM,
`min_tokens` = max_tokens for llama-cpp-python, which has no ignore_eos). Printed per run:
aggregate output tokens/s (all completion tokens / wall time of the run), mean per-request decode
tokens/s (tokens after the first / time after the first), mean and p50 TTFT, the server's peak
RSS (VmHWM from /proc/<pid>/status), then the ratios troupe / llama.cpp and troupe's c16/c1.

Completion tokens per request: `usage.completion_tokens` when the stream reports it, else
max_tokens when finish_reason is "length", else the number of non-empty text chunks.

llama.cpp's server here is llama-cpp-python's (`python -m llama_cpp.server`, 0.3.16): it has no
parallel slots, so it answers concurrent requests one at a time (started with
--interrupt_requests False, else a new request cuts the streaming one short); its c16 numbers show
that.
Pure standard library: runs anywhere Python 3.8+ is.
"""
import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

DEFAULT_MODEL = os.path.expanduser("~/.cache/troupe/models/SmolLM2-135M-Instruct.Q4_1.gguf")

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "Here is a list of fruits:\n1. Apple\n2. Banana\n3.",
    "Why is the sky blue?",
    "Once upon a time, in a small village by the sea,",
    "Les élèves du lycée à Zürich ont mangé des crêpes et",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "The three laws of thermodynamics are",
    "SELECT name, age FROM users WHERE",
    "A recipe for pancakes:\nIngredients:\n-",
    "The most important invention of the twentieth century was",
    "In machine learning, overfitting means",
    '{"name": "Alice", "age": 30, "city":',
    "Dear hiring manager, I am writing to apply for",
    "The quick brown fox",
    "Photosynthesis is the process by which",
]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


class Server:
    """One server process: started, polled for readiness and peak RSS, stopped."""

    def __init__(self, name, command, port, extra_body, log_path):
        self.name, self.command, self.port, self.extra_body = name, command, port, extra_body
        self.log_path, self.proc, self.model_id, self.peak_rss = log_path, None, None, None
        self.log = None
        self._stop_polling = threading.Event()

    def start(self, timeout_s):
        print(f"[{self.name}] starting: {' '.join(self.command)}", file=sys.stderr)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        threading.Thread(target=self._poll_rss, daemon=True).start()
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; "
                                   f"see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/models",
                                            timeout=2) as r:
                    self.model_id = json.load(r)["data"][0]["id"]
                    return
            except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError):
                time.sleep(0.5)
        raise RuntimeError(f"{self.name} not ready after {timeout_s}s; see {self.log_path}")

    def _poll_rss(self):
        while not self._stop_polling.wait(0.2):
            rss = peak_rss_mib(self.proc.pid)
            if rss is not None:
                self.peak_rss = max(self.peak_rss or 0.0, rss)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            rss = peak_rss_mib(self.proc.pid)
            if rss is not None:
                self.peak_rss = max(self.peak_rss or 0.0, rss)
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._stop_polling.set()
        if self.log:
            self.log.close()


def stream_completion(server, prompt, max_tokens, timeout_s):
    """One streaming request; returns (ttft_s, e2e_s, completion_tokens, error)."""
    body = {"model": server.model_id, "prompt": prompt, "max_tokens": max_tokens,
            "temperature": 0.0, "stream": True, "stream_options": {"include_usage": True}}
    body.update(server.extra_body)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout_s)
    start = time.perf_counter()
    ttft, chunks, usage, finish = None, 0, None, None
    try:
        conn.request("POST", "/v1/completions", json.dumps(body),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            return None, None, 0, f"HTTP {resp.status}: {resp.read()[:200]!r}"
        while True:
            line = resp.readline()
            if not line:
                break
            line = line.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            event = json.loads(data)
            usage = event.get("usage") or usage
            for choice in event.get("choices") or []:
                if choice.get("text"):
                    chunks += 1
                    if ttft is None:
                        ttft = time.perf_counter() - start
                finish = choice.get("finish_reason") or finish
    except (OSError, http.client.HTTPException, ValueError) as e:
        return None, None, 0, f"{type(e).__name__}: {e}"
    finally:
        conn.close()
    e2e = time.perf_counter() - start
    if usage and usage.get("completion_tokens"):
        tokens = usage["completion_tokens"]
    elif finish == "length":
        tokens = max_tokens
    else:
        tokens = chunks
    return ttft, e2e, tokens, None


def run_load(server, prompts, concurrency, max_tokens, timeout_s):
    results, lock, next_index = [], threading.Lock(), [0]

    def worker():
        while True:
            with lock:
                if next_index[0] >= len(prompts):
                    return
                prompt = prompts[next_index[0]]
                next_index[0] += 1
            outcome = stream_completion(server, prompt, max_tokens, timeout_s)
            with lock:
                results.append(outcome)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summarize(results, time.perf_counter() - start, concurrency)


def summarize(results, wall_s, concurrency):
    ok = [r for r in results if r[3] is None and r[0] is not None]
    errors = [r[3] for r in results if r[3] is not None]
    tokens = sum(r[2] for r in ok)
    decode_rates = [(r[2] - 1) / (r[1] - r[0]) for r in ok if r[2] > 1 and r[1] > r[0]]
    ttfts = [r[0] for r in ok]
    return {"concurrency": concurrency, "requests": len(results), "ok": len(ok),
            "errors": errors[:3], "num_errors": len(errors), "wall_s": wall_s,
            "completion_tokens": tokens, "tokens_per_request": tokens / len(ok) if ok else 0,
            "output_tok_s": tokens / wall_s if wall_s > 0 else 0.0,
            "mean_decode_tok_s": statistics.mean(decode_rates) if decode_rates else 0.0,
            "mean_ttft_ms": 1000 * statistics.mean(ttfts) if ttfts else float("nan"),
            "p50_ttft_ms": 1000 * statistics.median(ttfts) if ttfts else float("nan")}


def bench_server(server, args):
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(args.num_prompts)]
    try:
        server.start(args.startup_timeout)
        warm = stream_completion(server, "Hello", 4, args.request_timeout)
        if warm[3]:
            raise RuntimeError(f"{server.name} warm-up request failed: {warm[3]}")
        runs = []
        for concurrency in args.concurrency:
            run = run_load(server, prompts, concurrency, args.max_tokens, args.request_timeout)
            print(f"[{server.name}] c={concurrency}: {run['output_tok_s']:.1f} tok/s, "
                  f"{run['num_errors']} errors", file=sys.stderr)
            runs.append(run)
    finally:
        server.stop()
    return {"server": server.name, "peak_rss_mib": server.peak_rss, "runs": runs}


def print_report(results, args):
    print(f"\nmodel {args.model}, threads {args.threads}, {args.num_prompts} prompts x "
          f"{args.max_tokens} tokens, temperature 0, streaming /v1/completions")
    header = (f"{'server':<10} {'conc':>4} {'ok/req':>7} {'tok/req':>7} {'out tok/s':>9} "
              f"{'decode tok/s':>12} {'mean TTFT ms':>12} {'p50 TTFT ms':>11} {'peak RSS MiB':>12}")
    print(header)
    print("-" * len(header))
    for result in results:
        rss = result["peak_rss_mib"]
        for run in result["runs"]:
            print(f"{result['server']:<10} {run['concurrency']:>4} "
                  f"{run['ok']:>3}/{run['requests']:<3} {run['tokens_per_request']:>7.1f} "
                  f"{run['output_tok_s']:>9.1f} {run['mean_decode_tok_s']:>12.1f} "
                  f"{run['mean_ttft_ms']:>12.1f} {run['p50_ttft_ms']:>11.1f} "
                  f"{(rss if rss is not None else float('nan')):>12.1f}")
            for error in run["errors"]:
                print(f"    error: {error}")
            if run["ok"] and run["tokens_per_request"] < args.max_tokens:
                print(f"    note: fewer than {args.max_tokens} tokens per request (stopped early)")
    by_name = {r["server"]: r for r in results}
    if "troupe" in by_name and "llama.cpp" in by_name:
        print("\ntroupe / llama.cpp:")
        for mine, theirs in zip(by_name["troupe"]["runs"], by_name["llama.cpp"]["runs"]):
            print(f"  c={mine['concurrency']}: out tok/s x{ratio(mine, theirs, 'output_tok_s')}, "
                  f"mean TTFT x{ratio(mine, theirs, 'mean_ttft_ms')}")
        print(f"  peak RSS x{ratio(by_name['troupe'], by_name['llama.cpp'], 'peak_rss_mib')}")
    for result in results:
        runs = {run["concurrency"]: run for run in result["runs"]}
        if 1 in runs and 16 in runs:
            print(f"{result['server']} c16/c1 out tok/s: x{ratio(runs[16], runs[1], 'output_tok_s')}")


def ratio(a, b, key):
    x, y = a.get(key), b.get(key)
    return f"{x / y:.2f}" if x and y else "n/a"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--troupe", default="build/bin/troupe", help="path to the troupe binary")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the GGUF both servers load")
    parser.add_argument("--threads", type=int, default=2, help="compute threads of each server")
    parser.add_argument("--n-ctx", type=int, default=2048, help="context length of each server")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--num-prompts", type=int, default=16, help="requests per run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--only-llamacpp", action="store_true",
                        help="benchmark llama.cpp's server only (troupe not built yet)")
    parser.add_argument("--python", default=sys.executable, help="python with llama_cpp installed")
    parser.add_argument("--startup-timeout", type=float, default=180)
    parser.add_argument("--request-timeout", type=float, default=600)
    parser.add_argument("--log-dir", default="/tmp", help="where server logs go")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    if not os.path.isfile(args.model):
        sys.exit(f"no model file {args.model}")
    if not args.only_llamacpp and not os.access(args.troupe, os.X_OK):
        sys.exit(f"no troupe binary at {args.troupe} (build it, or pass --only-llamacpp)")

    servers = []
    port = free_port()
    servers.append(Server(
        "llama.cpp",
        [args.python, "-m", "llama_cpp.server", "--model", args.model, "--host", "127.0.0.1",
         "--port", str(port), "--n_threads", str(args.threads), "--n_threads_batch",
         str(args.threads), "--n_ctx", str(args.n_ctx), "--n_gpu_layers", "0",
         # by default a new request interrupts the one streaming; queue them instead
         "--interrupt_requests", "False"],
        port, {"min_tokens": args.max_tokens}, os.path.join(args.log_dir, "bench_llamacpp.log")))
    if not args.only_llamacpp:
        port = free_port()
        servers.append(Server(
            "troupe",
            [args.troupe, "serve", "--model", args.model, "--host", "127.0.0.1", "--port",
             str(port), "--threads", str(args.threads), "--max-model-len", str(args.n_ctx),
             "--max-num-seqs", str(max(args.concurrency))],
            port, {"ignore_eos": True}, os.path.join(args.log_dir, "bench_troupe.log")))

    results = [bench_server(server, args) for server in servers]
    print_report(results, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
