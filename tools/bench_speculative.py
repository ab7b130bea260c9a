#!/usr/bin/env python3
"""Speculative decoding by prompt lookup against plain decoding and the peers, in one run: the
same `troupe bench` loads on troupe's default GGUF without and with --speculative-config ngram,
llama.cpp's llama-server on that GGUF (plain decoding), and optionally troupe and vLLM's CPU build
on the bf16 Hugging Face directory (both --dtype bfloat16) without and with the same ngram config
(tools/bench_peers.py installs the peers; ../shared/PEERS.md).

    python3 tools/bench_speculative.py [--troupe build/bin/troupe] [--model GGUF]
        [--servers troupe,troupe-ngram,llama.cpp[,troupe-hf,troupe-hf-ngram,vllm,vllm-ngram]]
        [--threads 2]
        [--num-speculative-tokens 4] [--prompt-lookup-min 2] [--prompt-lookup-max 4]
        [--per-batch-size '[[1, 4, 4], [5, 256, 0]]']

The loads (greedy, --ignore-eos, a seed per load so nothing repeats a prompt another load sent):
  copy c=1    16 chat requests one at a time whose answers restate their prompt (repeat, fix
              the spelling of, or turn into a list a paragraph), 128 tokens each: where prompt
              lookup finds its drafts
  copy c=16   the same 16 requests all in flight
  random c=1  8 random 128-token prompts, 64 tokens each: drafts rarely match, the overhead case
For each server: output tok/s, mean TTFT and TPOT; for the ngram servers the drafts' acceptance
from their vllm:spec_decode_* counters. Prints troupe-ngram / troupe and troupe-ngram / llama.cpp
(and vllm-ngram / vllm) ratios of the mean TPOT and output tok/s. Standard library only.
"""
import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_peers import peak_rss_bytes, server_command, start_peer, stop  # noqa: E402
from serve_bench import DEFAULT_MODEL, free_port, metrics_text, run_bench  # noqa: E402

# This tool's server names without "-ngram", as tools/bench_peers.py names them.
PEER_NAMES = {"troupe": "troupe-gguf"}

PARAGRAPHS = [
    "The river rises in the northern hills and runs south for three hundred miles before it "
    "reaches the sea. Along the way it passes four towns, two old mills and a railway bridge "
    "built in the last century.",
    "To make bread, mix flour, water, salt and yeast, knead the dough for ten minutes, let it "
    "rise for an hour, shape it into a loaf and bake it in a hot oven until the crust is brown.",
    "The library opens at nine in the morning and closes at six in the evening. Children may "
    "borrow five books at a time, and adults may borrow ten books for up to three weeks.",
    "Our team meets every Monday to plan the week. We review the open tasks, assign owners, "
    "agree on deadlines and write down the risks that could delay the release.",
    "The museum has three floors. The first floor shows ancient tools, the second floor shows "
    "paintings from the last two centuries, and the third floor is used for special exhibitions.",
    "Water boils at one hundred degrees Celsius at sea level. At higher altitudes the air "
    "pressure is lower, so water boils at a lower temperature and food takes longer to cook.",
    "The train leaves the central station at eight fifteen, stops at the airport at eight forty "
    "and arrives in the old town at nine ten. Tickets can be bought online or at the station.",
    "A good password is long, hard to guess and used for one account only. A password manager "
    "can create and remember such passwords so that you do not have to.",
]
INSTRUCTIONS = [
    "Repeat the following text exactly, word for word:\n\n{}",
    "Rewrite the following text with every sentence on its own line:\n\n{}",
]


def write_dataset(path):
    with open(path, "w") as f:
        for text in PARAGRAPHS:
            for instruction in INSTRUCTIONS:
                f.write(json.dumps({"prompt": instruction.format(text)}) + "\n")


def spec_counters(port):
    """{drafts, draft tokens, accepted} from /metrics, or None without them."""
    text = metrics_text(port) or ""
    values = {}
    for line in text.splitlines():
        for key in ("num_drafts", "num_draft_tokens", "num_accepted_tokens"):
            if line.startswith(f"vllm:spec_decode_{key}_total{{"):
                values[key] = values.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return values or None


def measure(name, a, paths, out_dir, dataset):
    port = free_port()
    base = name.removesuffix("-ngram")
    cmd, env = server_command(PEER_NAMES.get(base, base), a, port, paths)
    if name.endswith("-ngram"):
        config = {"method": "ngram", "num_speculative_tokens": a.num_speculative_tokens,
                  "prompt_lookup_min": a.prompt_lookup_min,
                  "prompt_lookup_max": a.prompt_lookup_max}
        if a.per_batch_size:
            config["num_speculative_tokens_per_batch_size"] = json.loads(a.per_batch_size)
        cmd += ["--speculative-config", json.dumps(config)]
    log_path = os.path.join(out_dir, f"serve-{name}.log")
    proc = start_peer(cmd, env, port, log_path)
    copy = ["--dataset-name", "custom", "--dataset-path", dataset, "--custom-output-len", "128",
            "--tokenizer", a.model, "--request-rate", "inf", "--num-prompts", "16"]
    loads = {
        "copy c=1": copy + ["--max-concurrency", "1"],
        "copy c=16": copy + ["--max-concurrency", "16"],
        "random c=1": ["--dataset-name", "random", "--random-input-len", "128",
                       "--random-output-len", "64", "--num-prompts", "8", "--max-concurrency",
                       "1", "--request-rate", "inf"],
    }
    row = {}
    try:
        for seed, (load, flags) in enumerate(loads.items(), start=7):
            before = spec_counters(port)
            tag = f"{name}-{load.replace(' ', '').replace('=', '')}"
            r = run_bench(a.troupe, a.model, port, out_dir, tag,
                          seed, ["--backend", "vllm", "--num-warmups", "1"] + flags)
            after = spec_counters(port)
            accept = ""
            if before and after and after["num_draft_tokens"] > before["num_draft_tokens"]:
                drafts = after["num_drafts"] - before["num_drafts"]
                drafted = after["num_draft_tokens"] - before["num_draft_tokens"]
                accepted = after["num_accepted_tokens"] - before["num_accepted_tokens"]
                r["acceptance"] = accepted / drafted
                accept = (f"  drafts accepted {100 * accepted / drafted:5.1f}%"
                          f" ({accepted / drafts:.2f} a draft)")
            row[load] = r
            print(f"  {name:13} {load:10} out {r['output_throughput']:7.1f} tok/s"
                  f"  TTFT {r['mean_ttft_ms']:7.1f} ms  TPOT {r['mean_tpot_ms']:6.2f} ms{accept}",
                  flush=True)
        row["rss"] = peak_rss_bytes(proc.pid)
    finally:
        stop(proc)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--troupe", default="build/bin/troupe")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/troupe/peers"))
    ap.add_argument("--servers", default="troupe,troupe-ngram,llama.cpp")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--num-speculative-tokens", type=int, default=4)
    ap.add_argument("--prompt-lookup-min", type=int, default=2)
    ap.add_argument("--prompt-lookup-max", type=int, default=4)
    ap.add_argument("--per-batch-size", default="",
                    help="vLLM's num_speculative_tokens_per_batch_size (JSON); none by default")
    a = ap.parse_args()
    cache = a.cache_dir
    paths = {"venv": os.path.join(cache, "vllm-venv"), "hf": os.path.join(cache, "smollm2-hf"),
             "llama-server": os.path.join(cache, "llama.cpp", "build", "bin", "llama-server")}
    servers = a.servers.split(",")
    for name in servers:
        if ("hf" in name or name.startswith("vllm")) and not os.path.isdir(paths["hf"]):
            sys.exit("no vLLM install: run tools/bench_peers.py --install-only first")
        if name == "llama.cpp" and not os.path.exists(paths["llama-server"]):
            sys.exit("no llama-server: run tools/bench_peers.py --install-only first")
    out_dir = tempfile.mkdtemp(prefix="bench-spec-")
    dataset = os.path.join(out_dir, "copy.jsonl")
    write_dataset(dataset)
    print(f"results in {out_dir}; ngram: k={a.num_speculative_tokens}, "
          f"n-grams of {a.prompt_lookup_min}-{a.prompt_lookup_max} tokens", flush=True)
    rows = {name: measure(name, a, paths, out_dir, dataset) for name in servers}

    def ratios(new, base):
        if new not in rows or base not in rows:
            return
        for load in ("copy c=1", "copy c=16", "random c=1"):
            n, b = rows[new][load], rows[base][load]
            print(f"  {new} / {base:10} {load:10} TPOT x{n['mean_tpot_ms'] / b['mean_tpot_ms']:.3f}"
                  f"  output tok/s x{n['output_throughput'] / b['output_throughput']:.3f}")

    print("\nratios (TPOT below 1 and tok/s above 1: the first is faster)")
    ratios("troupe", "llama.cpp")
    ratios("troupe-ngram", "troupe")
    ratios("troupe-ngram", "llama.cpp")
    ratios("troupe-hf-ngram", "troupe-hf")
    ratios("vllm-ngram", "vllm")
    ratios("troupe-hf-ngram", "vllm-ngram")


if __name__ == "__main__":
    main()
