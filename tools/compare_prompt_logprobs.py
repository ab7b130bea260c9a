#!/usr/bin/env python3
"""Sends the same prompt-logprobs, echo, token-id and truncation requests to two
OpenAI-compatible servers (troupe and vLLM serving the same model) and compares their answers:
texts, usage, the logprobs objects' tokens, offsets and top-entry keys, prompt_logprobs' ids,
ranks and decoded tokens exactly, and every logprob within --tolerance. Prints each difference
and the largest logprob gap; exits 1 on any difference.

    python3 tools/compare_prompt_logprobs.py --a http://localhost:8000 --b http://localhost:8303 \\
        --model smol

Both servers must serve the model under --model's name, in the same precision (vLLM's
--dtype float32 against troupe's --dtype float32 agree within about 1e-4).
"""
import argparse
import json
import sys
import urllib.request

COMPLETIONS = [
    {"prompt": "The capital of France is", "max_tokens": 3, "temperature": 0, "echo": True,
     "logprobs": 2},
    # lm-eval's loglikelihood request: the prompt's logprobs, nothing generated.
    {"prompt": "Once upon a time, there was a little", "max_tokens": 0, "echo": True,
     "logprobs": 1},
    {"prompt": [1, 504, 3575, 282, 4649, 314], "max_tokens": 2, "temperature": 0,
     "prompt_logprobs": 3},
    {"prompt": "Hello world", "max_tokens": 2, "temperature": 0, "echo": True},
    {"prompt": "Count: one two three four five six seven eight nine ten eleven twelve",
     "max_tokens": 1, "temperature": 0, "prompt_logprobs": 0},
    {"prompt": "The capital of France is", "max_tokens": 2, "temperature": 0, "echo": True,
     "logprobs": 2, "return_tokens_as_token_ids": True},
    # truncate_prompt_tokens: vLLM's default side (left), then the right.
    {"prompt": "Once upon a time, there was a little", "max_tokens": 3, "temperature": 0,
     "truncate_prompt_tokens": 4, "prompt_logprobs": 1},
    {"prompt": "Once upon a time, there was a little", "max_tokens": 3, "temperature": 0,
     "truncate_prompt_tokens": 4, "truncation_side": "right", "prompt_logprobs": 1},
]
CHAT = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1, "temperature": 0,
        "prompt_logprobs": 2}
CHAT_IDS = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3, "temperature": 0,
            "logprobs": True, "top_logprobs": 2, "return_tokens_as_token_ids": True}
# Chat's echo: the assistant's last message starts the content.
CHAT_ECHO = {"messages": [{"role": "user", "content": "What is 2 + 2?"},
                          {"role": "assistant", "content": "The answer is"}],
             "add_generation_prompt": False, "continue_final_message": True, "echo": True,
             "max_tokens": 4, "temperature": 0}


def post(base, path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


class Comparison:
    def __init__(self, tolerance):
        self.tolerance = tolerance
        self.differences = 0
        self.worst = 0.0

    def differ(self, where, what, a, b):
        self.differences += 1
        print(f"{where}: {what}: {a!r} vs {b!r}")

    def logprob(self, where, a, b):
        gap = abs(a - b)
        self.worst = max(self.worst, gap)
        if gap > self.tolerance:
            self.differ(where, "logprob", a, b)

    def prompt_logprobs(self, where, a, b):
        if a is None or b is None or len(a) != len(b):
            if a != b:
                self.differ(where, "prompt_logprobs", a, b)
            return
        for i, (x, y) in enumerate(zip(a, b)):
            if x is None or y is None:
                if x != y:
                    self.differ(f"{where}[{i}]", "null", x, y)
                continue
            if list(x) != list(y):
                self.differ(f"{where}[{i}]", "ids", list(x), list(y))
                continue
            for k in x:
                self.logprob(f"{where}[{i}][{k}]", x[k]["logprob"], y[k]["logprob"])
                for field in ("rank", "decoded_token"):
                    if x[k][field] != y[k][field]:
                        self.differ(f"{where}[{i}][{k}]", field, x[k][field], y[k][field])

    def logprobs(self, where, a, b):
        if a is None or b is None:
            if (a is None) != (b is None):
                self.differ(where, "logprobs", a, b)
            return
        for key in ("text_offset", "tokens"):
            if a[key] != b[key]:
                self.differ(where, key, a[key], b[key])
        for i, (x, y) in enumerate(zip(a["token_logprobs"], b["token_logprobs"])):
            if x is None or y is None:
                if x != y:
                    self.differ(f"{where}[{i}]", "token_logprob", x, y)
            else:
                self.logprob(f"{where}[{i}]", x, y)
        for i, (x, y) in enumerate(zip(a["top_logprobs"], b["top_logprobs"])):
            if x is None or y is None:
                if x != y:
                    self.differ(f"{where}[{i}]", "top_logprobs", x, y)
            elif list(x) != list(y):
                self.differ(f"{where}[{i}]", "top_logprobs keys", list(x), list(y))
            else:
                for k in x:
                    self.logprob(f"{where}[{i}][{k!r}]", x[k], y[k])

    def usage(self, where, a, b):
        for key in ("prompt_tokens", "completion_tokens"):
            if a[key] != b[key]:
                self.differ(where, key, a[key], b[key])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, help="the first server's base URL")
    parser.add_argument("--b", required=True, help="the second server's base URL")
    parser.add_argument("--model", required=True, help="the served model name on both")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args()
    c = Comparison(args.tolerance)
    for n, body in enumerate(COMPLETIONS):
        body = dict(body, model=args.model)
        a, b = post(args.a, "/v1/completions", body), post(args.b, "/v1/completions", body)
        ca, cb = a["choices"][0], b["choices"][0]
        where = f"completion {n}"
        if ca["text"] != cb["text"]:
            c.differ(where, "text", ca["text"], cb["text"])
        c.prompt_logprobs(where + " prompt_logprobs", ca.get("prompt_logprobs"),
                          cb.get("prompt_logprobs"))
        c.logprobs(where + " logprobs", ca["logprobs"], cb["logprobs"])
        c.usage(where, a["usage"], b["usage"])
    body = dict(CHAT, model=args.model)
    a, b = post(args.a, "/v1/chat/completions", body), post(args.b, "/v1/chat/completions", body)
    c.prompt_logprobs("chat prompt_logprobs", a.get("prompt_logprobs"), b.get("prompt_logprobs"))
    c.usage("chat", a["usage"], b["usage"])
    body = dict(CHAT_IDS, model=args.model)
    a, b = post(args.a, "/v1/chat/completions", body), post(args.b, "/v1/chat/completions", body)
    la = a["choices"][0]["logprobs"]["content"]
    lb = b["choices"][0]["logprobs"]["content"]
    strip = lambda steps: [(s["token"], s["bytes"], [(t["token"], t["bytes"])
                                                      for t in s["top_logprobs"]])
                           for s in steps]
    if strip(la) != strip(lb):
        c.differ("chat token ids", "logprobs tokens", strip(la), strip(lb))
    body = dict(CHAT_ECHO, model=args.model)
    a, b = post(args.a, "/v1/chat/completions", body), post(args.b, "/v1/chat/completions", body)
    ca, cb = a["choices"][0]["message"]["content"], b["choices"][0]["message"]["content"]
    if ca != cb:
        c.differ("chat echo", "content", ca, cb)
    print(f"{c.differences} differences; largest logprob gap {c.worst:.3g}")
    return 1 if c.differences else 0


if __name__ == "__main__":
    sys.exit(main())
