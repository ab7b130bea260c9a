#!/usr/bin/env python3
"""Loglikelihood throughput, as lm-eval's `local-completions` asks for it: /v1/completions with
echo, logprobs 1 and max_tokens 0 (the prompt's logprobs, nothing generated), against one or more
OpenAI-compatible servers in turn. Prompts are random token ids (the same for every server, so
tokenizers play no part); each server first gets the prompts once untimed (warm-up), then again
timed, with --concurrency requests in flight. Prints, per server, requests/s, prompt tokens
scored per second and the mean latency, then the ratios against the first server.

    python3 tools/bench_loglikelihood.py --server troupe=http://localhost:8000 \\
        --server vllm=http://localhost:8303 --model smol --prompts 32 --tokens 256

The servers must serve the model under --model's name. A server with prefix caching keeps the
prompts' blocks between the warm-up and the timed pass; requests with prompt logprobs read no
cached block (vLLM and troupe alike), so both passes compute every prompt.
"""
import argparse
import concurrent.futures
import json
import random
import sys
import time
import urllib.request


def post(url, body):
    request = urllib.request.Request(url + "/v1/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        answer = json.load(response)
    return time.perf_counter() - start, answer


def run(url, model, prompts, concurrency):
    def one(prompt):
        body = {"model": model, "prompt": prompt, "echo": True, "logprobs": 1, "max_tokens": 0}
        latency, answer = post(url, body)
        logprobs = answer["choices"][0]["logprobs"]["token_logprobs"]
        if len(logprobs) != len(prompt) or logprobs[0] is not None:
            raise RuntimeError(f"{url}: {len(logprobs)} logprobs for {len(prompt)} tokens")
        return latency

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, prompts))
    return time.perf_counter() - start, latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", action="append", required=True, metavar="NAME=URL")
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=256, help="tokens a prompt")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=49152, help="ids are drawn below this")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    # Ids from 1000 on: no special tokens.
    prompts = [[rng.randrange(1000, args.vocab) for _ in range(args.tokens)]
               for _ in range(args.prompts)]
    results = []
    for spec in args.server:
        name, url = spec.split("=", 1)
        run(url, args.model, prompts, args.concurrency)  # warm-up
        seconds, latencies = run(url, args.model, prompts, args.concurrency)
        scored = args.prompts * (args.tokens - 1)
        results.append((name, args.prompts / seconds, scored / seconds,
                        1000 * sum(latencies) / len(latencies)))
    print(f"{args.prompts} prompts of {args.tokens} tokens, {args.concurrency} in flight")
    print(f"{'server':<12} {'req/s':>8} {'scored tok/s':>13} {'mean latency ms':>16}")
    for name, rps, tps, latency in results:
        print(f"{name:<12} {rps:>8.2f} {tps:>13.0f} {latency:>16.0f}")
    first = results[0]
    for name, rps, tps, latency in results[1:]:
        print(f"{first[0]} / {name}: scored tok/s x{first[2] / tps:.3f}, "
              f"latency x{first[3] / latency:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
