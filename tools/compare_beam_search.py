#!/usr/bin/env python3
"""Sends the same beam-search requests (`use_beam_search`, completions and chat) to two
OpenAI-compatible servers, troupe and vLLM serving the same model in the same precision, and
compares every choice: text, finish_reason, stop_reason and token ids, the usage, and with
`logprobs` each token's logprob and top entries (names and order exactly, values within 1e-3).
Both run
vLLM's algorithm (one-token requests with 2 * n logprobs per beam and round) on the raw logits'
logprobs, so the beams are the same up to near-ties of the logprobs. Also checks that both refuse
the same requests with the same errors. Exits 1 on any difference.

    python3 tools/compare_beam_search.py --a http://localhost:8012 --b http://localhost:8303 \\
        --model smol

Start both servers with --dtype float32 (vLLM: `vllm serve DIR --dtype float32`).
"""
import argparse
import json
import sys
import urllib.error
import urllib.request

PROMPTS = ["The capital of France is", "Once upon a time, in a small village,",
           "def fibonacci(n):", "The three primary colors are"]
CHAT = [{"role": "user", "content": "Name a fruit that is red."}]

CASES = [("completions", {"prompt": p, "n": n, "max_tokens": 12})
         for p in PROMPTS for n in (1, 2, 4)]
CASES += [
    ("completions", {"prompt": PROMPTS[0], "n": 3, "max_tokens": 16, "length_penalty": 0.5}),
    ("completions", {"prompt": PROMPTS[0], "n": 3, "max_tokens": 16, "length_penalty": 2.0}),
    ("completions", {"prompt": PROMPTS[0], "n": 3, "max_tokens": 10, "ignore_eos": True}),
    ("completions", {"prompt": PROMPTS[0], "n": 3, "max_tokens": 16,
                     "include_stop_str_in_output": True}),
    ("completions", {"prompt": PROMPTS[3], "n": 2, "max_tokens": 8, "echo": True}),
    ("completions", {"prompt": [PROMPTS[0], PROMPTS[3]], "n": 2, "max_tokens": 8}),
    ("completions", {"prompt": PROMPTS[1], "n": 2, "max_tokens": 8, "stop": ["."],
                     "presence_penalty": 1.5}),
    ("chat/completions", {"messages": CHAT, "n": 2, "max_tokens": 16}),
    ("chat/completions", {"messages": CHAT, "n": 3, "max_tokens": 16, "stream": True}),
    ("completions", {"prompt": PROMPTS[0], "n": 2, "max_tokens": 8, "logprobs": 1}),
    ("completions", {"prompt": PROMPTS[1], "n": 3, "max_tokens": 8, "logprobs": 0}),
    ("completions", {"prompt": PROMPTS[3], "n": 2, "max_tokens": 10, "logprobs": 5,
                     "include_stop_str_in_output": True}),
    ("chat/completions", {"messages": CHAT, "n": 2, "max_tokens": 12, "logprobs": True,
                          "top_logprobs": 2}),
    ("chat/completions", {"messages": CHAT, "n": 2, "max_tokens": 6, "logprobs": True}),
]
ERRORS = [
    ("completions", {"prompt": PROMPTS[0], "n": 2, "max_tokens": 8, "stream": True}),
    ("completions", {"prompt": PROMPTS[0], "n": 2, "max_tokens": 8, "echo": True, "logprobs": 1}),
    ("completions", {"prompt": PROMPTS[0], "n": 2, "max_tokens": 100000}),
]


def post(base, path, body):
    req = urllib.request.Request(f"{base}/v1/{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            raw = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())
    if not body.get("stream"):
        return status, json.loads(raw)
    # A stream: each choice's text, finish_reason and stop_reason from its deltas.
    choices = {}
    for line in raw.split("\n"):
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        for c in json.loads(line[6:]).get("choices", []):
            got = choices.setdefault(c["index"], {"text": "", "finish_reason": None,
                                                  "stop_reason": None})
            got["text"] += (c.get("delta") or {}).get("content") or ""
            if c.get("finish_reason"):
                got["finish_reason"] = c["finish_reason"]
                got["stop_reason"] = c.get("stop_reason")
    return status, {"choices": [choices[i] for i in sorted(choices)]}


def logprob_entries(lp):
    """A choice's logprobs as [(token, logprob, [(top token, logprob), ...])], or None."""
    if not lp:
        return None
    if "content" in lp:  # chat
        return [(e["token"], e["logprob"], [(t["token"], t["logprob"]) for t in e["top_logprobs"]])
                for e in lp["content"] or []]
    return [(tok, value, list((top or {}).items()))
            for tok, value, top in zip(lp["tokens"], lp["token_logprobs"], lp["top_logprobs"])]


def summary(reply, path):
    status, body = reply
    if status != 200:
        error = body.get("error", body)
        return {"status": status, "message": error.get("message"), "param": error.get("param")}
    out = []
    for c in body["choices"]:
        text = c["message"]["content"] if "message" in c else c["text"]
        out.append((c.get("index"), text, c["finish_reason"], c.get("stop_reason"),
                    c.get("token_ids"), logprob_entries(c.get("logprobs"))))
    usage = body.get("usage") or {}
    return {"choices": out, "usage": (usage.get("prompt_tokens"), usage.get("completion_tokens"))}


def same(a, b, tolerance=1e-3):
    """Equal, but for floats, which may differ by `tolerance`."""
    if isinstance(a, float) or isinstance(b, float):
        return (isinstance(a, (int, float)) and isinstance(b, (int, float))
                and abs(a - b) <= tolerance)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y, tolerance) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], tolerance) for k in a)
    return a == b


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--model", required=True)
    args = ap.parse_args()
    differences = 0
    for path, fields in CASES + ERRORS:
        body = dict(fields, model=args.model, temperature=0, use_beam_search=True)
        if not body.get("stream") and path == "completions":
            body["return_token_ids"] = True
        a = summary(post(args.a, path, body), path)
        b = summary(post(args.b, path, body), path)
        equal = same(a, b)
        differences += 0 if equal else 1
        shown = {k: v for k, v in fields.items() if k not in ("prompt", "messages")}
        print(f"{'same' if equal else 'DIFFERENT'}  {path} {json.dumps(shown)}")
        for name, s in (("a", a), ("b", b)):
            if not equal or name == "a":
                print(f"    {name}: {json.dumps(s)[:400]}")
    print(f"{len(CASES) + len(ERRORS) - differences} of {len(CASES) + len(ERRORS)} requests "
          "answered the same")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
