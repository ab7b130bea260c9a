#!/usr/bin/env python3
"""Sends the same greedy structured-outputs requests (JSON schemas, json_object, regexes, choices,
a grammar, structural tags; completions and chat) to two OpenAI-compatible servers, troupe and vLLM serving the
same model in the same precision, and compares the answers: text, finish_reason and the number
of completion tokens. Greedy decoding under equal token masks picks the same tokens (up to
near-ties of the logits), so any difference points at a mask that differs. Also prints whether
each answer parses as JSON where one is expected. Exits 1 on any difference.

    python3 tools/compare_structured_outputs.py --a http://localhost:8012 \\
        --b http://localhost:8303 --model smol

vLLM 0.32 uses its default backend (xgrammar); start both servers with --dtype float32.
vLLM's xgrammar backend ignores a request's disable_any_whitespace (it reads only the server's
--structured-outputs-config), so that case differs by design.

With --bench N it then times N sampled JSON-schema requests (--concurrency at a time) on each
server in turn and prints output tokens/s and the ratio a/b.
"""
import argparse
import json
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

PERSON = {"type": "object",
          "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                         "city": {"enum": ["Paris", "Rome", "Oslo"]}},
          "required": ["name", "age", "city"]}
NESTED = {"type": "object",
          "properties": {"title": {"type": "string", "maxLength": 20},
                         "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                         "score": {"type": "number"}, "draft": {"type": "boolean"}},
          "required": ["title", "tags"]}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CHAT_PROMPT = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"

CASES = [
    ("completions", {"prompt": CHAT_PROMPT.format("Describe a person as JSON."),
                     "response_format": {"type": "json_schema",
                                         "json_schema": {"name": "p", "schema": PERSON}}}),
    ("completions", {"prompt": CHAT_PROMPT.format("Write a blog post record."),
                     "structured_outputs": {"json": NESTED}}),
    ("completions", {"prompt": CHAT_PROMPT.format("Write a blog post record."),
                     "structured_outputs": {"json": NESTED, "disable_any_whitespace": True}}),
    ("completions", {"prompt": "A JSON object describing a cat: ",
                     "response_format": {"type": "json_object"}}),
    ("completions", {"prompt": "My phone number is ",
                     "structured_outputs": {"regex": "\\(?[0-9]{3}\\)? ?[0-9]{3}-[0-9]{4}"}}),
    ("completions", {"prompt": "The date today is ",
                     "structured_outputs": {"regex": "(19|20)\\d{2}-\\d{2}-\\d{2}"}}),
    ("completions", {"prompt": "Letters: ", "structured_outputs": {"regex": "(ab|cd){2,5}"}}),
    ("completions", {"prompt": "Is the sky green? Answer: ",
                     "structured_outputs": {"choice": ["yes", "no", "maybe not"]}}),
    ("completions", {"prompt": "The best color is ",
                     "structured_outputs": {"choice": ["red", "green", "blue", "dark blue"]}}),
    ("completions", {"prompt": "Count: ",
                     "structured_outputs": {"grammar": "root ::= [0-9]+ (\", \" [0-9]+)*"}}),
    ("chat/completions", {"messages": [{"role": "user", "content": "Describe a person."}],
                          "response_format": {"type": "json_schema",
                                              "json_schema": {"name": "p", "schema": PERSON}}}),
    ("chat/completions", {"messages": [{"role": "user", "content": "Pick a number."}],
                          "structured_outputs": {"regex": "[1-9][0-9]?"}}),
    # Structural tags (runtime/grammar/structural_tag_grammar.hpp), both spellings.
    ("completions", {"prompt": CHAT_PROMPT.format("What is the weather in Paris? Call a tool."),
                     "response_format": {"type": "structural_tag", "format": {
                         "type": "triggered_tags", "triggers": ["<function="],
                         "at_least_one": True, "stop_after_first": True,
                         "tags": [{"type": "tag", "begin": "<function=get_weather>",
                                   "content": {"type": "json_schema", "json_schema": WEATHER},
                                   "end": "</function>"}]}}}),
    ("completions", {"prompt": CHAT_PROMPT.format("Say hello, then call <function=get_weather>."),
                     "response_format": {"type": "structural_tag", "triggers": ["<function="],
                                         "structures": [{"begin": "<function=get_weather>",
                                                         "schema": WEATHER,
                                                         "end": "</function>"}]}}),
    ("completions", {"prompt": "Two plus two is ",
                     "structured_outputs": {"structural_tag": json.dumps({
                         "type": "structural_tag", "format": {"type": "sequence", "elements": [
                             {"type": "const_string", "value": "Answer: "},
                             {"type": "regex", "pattern": "[0-9]+"},
                             {"type": "or", "elements": [{"type": "const_string", "value": "."},
                                                         {"type": "const_string", "value": "!"}]}
                         ]}})}}),
    ("chat/completions", {"messages": [{"role": "user", "content": "List two cities in tags."}],
                          "response_format": {"type": "structural_tag", "format": {
                              "type": "tags_with_separator", "separator": ", ",
                              "at_least_one": True,
                              "tags": [{"type": "tag", "begin": "<city>",
                                        "content": {"type": "any_text"},
                                        "end": "</city>"}]}}}),
]


def post(base, path, body):
    req = urllib.request.Request(f"{base}/v1/{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return {"error": e.read().decode()[:300]}


def answer(reply, path):
    if "error" in reply:
        return ("error", reply["error"], 0)
    c = reply["choices"][0]
    text = c["message"]["content"] if path.startswith("chat") else c["text"]
    return (text, c["finish_reason"], reply["usage"]["completion_tokens"])


def bench(base, model, n, concurrency, max_tokens):
    """Output tokens/s of n sampled person-schema requests, `concurrency` in flight."""
    def one(i):
        body = {"model": model, "prompt": CHAT_PROMPT.format("Describe a person as JSON."),
                "max_tokens": max_tokens, "temperature": 1.0, "seed": i,
                "response_format": {"type": "json_schema",
                                    "json_schema": {"name": "p", "schema": PERSON}}}
        reply = post(base, "completions", body)
        return reply.get("usage", {}).get("completion_tokens", 0)
    one(-1)  # warm-up: the grammar compiled, the masks of the first states cached
    start = time.time()
    with ThreadPoolExecutor(concurrency) as pool:
        tokens = sum(pool.map(one, range(n)))
    return tokens / (time.time() - start)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="first server (troupe)")
    ap.add_argument("--b", required=True, help="second server (vLLM)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--bench", type=int, default=0, help="sampled requests to time per server")
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    differences = 0
    for path, fields in CASES:
        body = dict(fields, model=args.model, max_tokens=args.max_tokens, temperature=0)
        a = answer(post(args.a, path, body), path)
        b = answer(post(args.b, path, body), path)
        same = a == b
        differences += 0 if same else 1
        kind = next(k for k in ("response_format", "structured_outputs") if k in fields)
        print(f"{'same' if same else 'DIFFERENT'}  {path} {json.dumps(fields[kind])[:70]}")
        for name, (text, finish, n) in (("a", a), ("b", b)):
            parsed = ""
            if "json" in json.dumps(fields[kind]) and finish == "stop":
                try:
                    json.loads(text)
                    parsed = " (parses)"
                except ValueError:
                    parsed = " (NOT JSON)"
            if not same or name == "a":
                print(f"    {name}: {finish} {n} tokens{parsed}: {text!r}"[:300])
    print(f"{len(CASES) - differences} of {len(CASES)} requests answered the same")
    if args.bench:
        a = bench(args.a, args.model, args.bench, args.concurrency, args.max_tokens)
        b = bench(args.b, args.model, args.bench, args.concurrency, args.max_tokens)
        print(f"JSON-schema output tokens/s, {args.bench} requests, {args.concurrency} at a time: "
              f"a {a:.1f}, b {b:.1f}, a/b x{a / b:.3f}")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
