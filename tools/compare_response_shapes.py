#!/usr/bin/env python3
"""Sends the same greedy completions and chat requests to two OpenAI-compatible servers (troupe
and vLLM serving the same model), whole and streamed, and compares the JSON they answer with
key by key: the same keys in the same order, the same nulls, the same values (texts, token ids,
usage, finish and stop reasons), and floats within --tolerance. Only "id" and "created" are left
out, and "system_fingerprint" is compared for being null or not. Each runs whole, streamed, streamed with include_usage, and with continuous_usage_stats.
Sampled requests (n > 1) compare keys, nulls and types only. /v1/models is compared too
("owned_by" for null-ness). The requests cover vLLM's return_token_ids and return_prompt_text with echo, logprobs,
prompt logprobs, n > 1, token-id prompts and batches of prompts; then requests both servers
refuse, whose errors must be equal. Prints each difference; exits 1 on any.

    python3 tools/compare_response_shapes.py --a http://localhost:8012 --b http://localhost:8303 \\
        --model smol

Both servers must serve the model under --model's name in the same precision (vLLM's --dtype
float32 against troupe's --dtype float32), with default server flags otherwise.
"""
import argparse
import json
import sys
import urllib.error
import urllib.request

UNCOMPARED = {"id", "created"}
# Compared for null or not only: each server names itself.
NAMED = {"system_fingerprint", "owned_by"}
PROMPT = "The capital of France is"
CHAT = [{"role": "user", "content": "Name a colour."}]
CHAT_ECHO = [{"role": "user", "content": "What is 2 + 2?"},
             {"role": "assistant", "content": "The answer is"}]

COMPLETIONS = [
    {"prompt": PROMPT},
    {"prompt": PROMPT, "return_token_ids": True},
    {"prompt": PROMPT, "return_token_ids": False},
    {"prompt": [504, 3575, 282, 4649, 314], "return_token_ids": True},
    {"prompt": PROMPT, "return_token_ids": True, "echo": True},
    {"prompt": PROMPT, "return_token_ids": True, "echo": True, "logprobs": 1},
    {"prompt": PROMPT, "return_token_ids": True, "echo": True, "max_tokens": 0},
    {"prompt": PROMPT, "return_token_ids": True, "logprobs": 2, "prompt_logprobs": 1},
    {"prompt": PROMPT, "return_token_ids": True, "n": 2},  # greedy: a 400 from both
    {"prompt": PROMPT, "return_token_ids": True, "n": 2, "temperature": 1, "seed": 7},
    {"prompt": PROMPT, "return_token_ids": True, "stop": [" Paris"]},
    {"prompt": [PROMPT, "Once upon a time"], "return_token_ids": True},
    # Batches (vLLM's list of prompts): each prompt's choices numbered after the previous ones'.
    {"prompt": [PROMPT, "Once upon a time", "1, 2, 3,"], "echo": True, "logprobs": 1},
    {"prompt": [[504, 3575, 282], [1, 504]], "prompt_logprobs": 1},
    {"prompt": [PROMPT, "Hello"], "echo": True, "max_tokens": 0},
    {"prompt": [PROMPT, "Hello"], "n": 2, "temperature": 1, "seed": 3},
    {"prompt": PROMPT, "stop": ["Paris is the", "t of"], "max_tokens": 12},
    {"prompt": PROMPT, "best_of": 2},  # vLLM 0.32 has no best_of any more: an unknown key
    {"prompt": PROMPT, "max_tokens": 0, "echo": True},
]
CHATS = [
    {"messages": CHAT},
    {"messages": CHAT, "return_token_ids": True},
    {"messages": CHAT, "return_prompt_text": True},
    {"messages": CHAT, "return_token_ids": True, "return_prompt_text": True, "n": 2},
    {"messages": CHAT, "return_token_ids": True, "return_prompt_text": True, "n": 2,
     "temperature": 1, "seed": 7},
    {"messages": CHAT, "return_token_ids": True, "logprobs": True, "top_logprobs": 1},
    {"messages": CHAT, "return_token_ids": True, "prompt_logprobs": 0},
    {"messages": CHAT_ECHO, "add_generation_prompt": False, "continue_final_message": True,
     "echo": True, "return_token_ids": True},
    # Stop strings hold text back: vLLM still sends those steps' chunks, content "".
    {"messages": CHAT, "stop": ["colour of the", "e f"], "max_tokens": 12},
    {"messages": CHAT, "stop": ["colour of the", "e f"], "max_tokens": 12,
     "return_token_ids": True},
]

# Requests both servers refuse: the status and the error object (message, type, param, code)
# must be equal. Left out: wrong JSON types and field bounds vLLM declares on its pydantic model
# (truncate_prompt_tokens below -1, ...), which it reports in pydantic's own words.
HI = [{"role": "user", "content": "Hi"}]
ERRORS = [("/v1/completions", body) for body in [
    {"prompt": "a", "temperature": -1},
    {"prompt": "a", "temperature": 2.5},
    {"prompt": "a", "top_p": 2},
    {"prompt": "a", "top_p": 0},
    {"prompt": "a", "top_k": -5},
    {"prompt": "a", "min_p": 3},
    {"prompt": "a", "presence_penalty": 5},
    {"prompt": "a", "frequency_penalty": -3},
    {"prompt": "a", "repetition_penalty": 0},
    {"prompt": "a", "logprobs": 50},
    {"prompt": "a", "logprobs": -2},
    {"prompt": "a", "prompt_logprobs": -3},
    {"prompt": "a", "prompt_logprobs": 50},
    {"prompt": "a", "max_tokens": -1},
    {"prompt": "a", "max_tokens": 100000},
    {"prompt": "a", "min_tokens": -1},
    {"prompt": "a", "min_tokens": 10, "max_tokens": 5},
    {"prompt": "a", "n": 0},
    {"prompt": "a", "stop": [""]},
    {"prompt": "a", "logit_bias": {"99999999": 1}},
    {"prompt": "a", "logit_bias": {"abc": 1}},
    {"prompt": "a", "truncate_prompt_tokens": 100000},
    {"prompt": "a", "cache_salt": ""},
    {"prompt": [99999999]},
    {"prompt": []},
    {"prompt": "a", "model": "other"},
    {"prompt": "a", "stream": True, "prompt_logprobs": 1},
    {"prompt": "a", "response_format": {"type": "json_schema"}},
    {"prompt": "a", "response_format": {"type": "structural_tag",
                                        "format": {"type": "sequence", "elements": []}}},
    {"prompt": "a", "structured_outputs": {"structural_tag": json.dumps(
        {"type": "structural_tag", "format": {"type": "triggered_tags", "triggers": ["<f"], "tags": [
            {"type": "tag", "begin": "<g>", "end": "</g>",
             "content": {"type": "const_string", "value": "1"}}]}})}},
    {"prompt": "a", "structured_outputs": {"structural_tag": "not json"}},
]] + [("/v1/chat/completions", dict(body, messages=HI)) for body in [
    {"top_logprobs": 5},
    {"logprobs": True, "top_logprobs": 50},
    {"logprobs": True, "top_logprobs": -2},
    {"temperature": -1},
    {"max_completion_tokens": -1},
    {"tool_choice": "auto"},
    {"tool_choice": "required"},
    {"tool_choice": {"type": "function", "function": {"name": "f"}}},
    {"n": 2, "temperature": 0},
]] + [("/v1/chat/completions", {"messages": []})]


def post(base, path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            raw = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read().decode())
    if not body.get("stream"):
        return status, json.loads(raw)
    chunks = []
    for line in raw.split("\n"):
        if line.startswith("data: ") and line != "data: [DONE]":
            chunks.append(json.loads(line[len("data: "):]))
    return status, chunks


class Comparison:
    def __init__(self, tolerance):
        self.tolerance = tolerance
        self.differences = 0
        self.shape_only = False  # sampled answers: keys, nulls and types, not values

    def differ(self, where, a, b):
        self.differences += 1
        print(f"{where}: {json.dumps(a)[:300]} vs {json.dumps(b)[:300]}")

    def value(self, where, a, b):
        if isinstance(a, dict) and isinstance(b, dict):
            if list(a) != list(b):
                self.differ(where + " keys", list(a), list(b))
            for key in a:
                if key in NAMED and key in b:
                    if (a[key] is None) != (b[key] is None):
                        self.differ(f"{where}.{key}", a[key], b[key])
                elif key in b and key not in UNCOMPARED:
                    self.value(f"{where}.{key}", a[key], b[key])
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b) and not self.shape_only:
                self.differ(where + " length", a, b)
            for i, (x, y) in enumerate(zip(a, b)):
                self.value(f"{where}[{i}]", x, y)
        elif self.shape_only:
            numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
            if type(a) is not type(b) and not numbers:
                self.differ(where + " type", a, b)
        elif isinstance(a, float) or isinstance(b, float):
            if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or \
                    isinstance(a, bool) or isinstance(b, bool) or abs(a - b) > self.tolerance:
                self.differ(where, a, b)
        elif a != b or type(a) is not type(b):
            self.differ(where, a, b)


def choice_index(chunk):
    return chunk["choices"][0]["index"] if chunk.get("choices") else 1 << 30


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, help="the first server's base URL")
    parser.add_argument("--b", required=True, help="the second server's base URL")
    parser.add_argument("--model", required=True, help="the served model name on both")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args()
    c = Comparison(args.tolerance)
    cases = [("/v1/completions", body) for body in COMPLETIONS]
    cases += [("/v1/chat/completions", body) for body in CHATS]
    num_requests = 0
    for n, (path, body) in enumerate(cases):
        base = dict(body, model=args.model, max_tokens=body.get("max_tokens", 6),
                    temperature=body.get("temperature", 0))
        # Sampled answers differ between the servers' random streams: only shapes compare, and
        # the streams' chunks up to the shorter one's length.
        c.shape_only = base["temperature"] > 0
        for stream in (False, True, "usage", "continuous"):
            request = dict(base)
            if stream:
                request["stream"] = True
            if stream == "usage":
                request["stream_options"] = {"include_usage": True}
            if stream == "continuous":
                request["stream_options"] = {"include_usage": True, "continuous_usage_stats": True}
            where = f"{path} case {n} stream={stream}"
            (sa, a), (sb, b) = post(args.a, path, request), post(args.b, path, request)
            if stream and isinstance(a, list) and isinstance(b, list):
                # Choices (of n, or of a batch's prompts) interleave as the steps run: compare
                # each choice's chunks in turn.
                a, b = sorted(a, key=choice_index), sorted(b, key=choice_index)
            num_requests += 1
            if sa != sb:
                c.differ(where + " status", sa, sb)
            c.value(where, a, b)
    # GET /v1/models: the served model's card (root: the same model path on both).
    models = [json.load(urllib.request.urlopen(base + "/v1/models")) for base in (args.a, args.b)]
    num_requests += 1
    c.value("/v1/models", *models)
    for n, (path, body) in enumerate(ERRORS):
        request = dict(body, model=body.get("model", args.model))
        (sa, a), (sb, b) = post(args.a, path, request), post(args.b, path, request)
        num_requests += 1
        where = f"{path} error {n} {json.dumps(body)[:80]}"
        if sb < 400:
            c.differ(where + ": the second server accepted it", sa, sb)
            continue
        if sa != sb:
            c.differ(where + " status", sa, sb)
        c.value(where, a, b)
    print(f"{num_requests} requests to each server, {c.differences} differences")
    return 1 if c.differences else 0


if __name__ == "__main__":
    sys.exit(main())
