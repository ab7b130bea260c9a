#!/usr/bin/env python3
"""Sends the same greedy chat requests with a forced tool call (tool_choice "required" or a named
function; parallel_tool_calls, cut answers, response_format and structured_outputs alongside) to
two OpenAI-compatible servers, troupe and vLLM serving the same model in the same precision, and
compares the answers: message content, tool calls (ids masked), finish and stop reasons, and every
chunk of the streamed answer per choice. Then sends invalid tool choices and compares the status,
error message and param. Exits 1 on any difference.

    python3 tools/compare_tool_calls.py --a http://localhost:8012 --b http://localhost:8303 \\
        --model smol

Start both servers with the same `--enable-auto-tool-choice --tool-call-parser NAME` and
--dtype float32: with `pythonic` forced calls are held to vLLM's JSON schema, with `hermes` to
hermes' own <tool_call> format (vLLM's structural tag; troupe builds the same grammar).
Error messages compare whole, vLLM's " (parameter=...)" ending included (troupe writes it too).
No case asks for logprobs: vLLM reports them after the grammar's
mask (the one allowed token at 0.0), troupe before it, for any structured output.
"""
import argparse
import json
import re
import sys
import urllib.request

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object",
                   "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
                   "required": ["city"]}}}
TIME = {"type": "function", "function": {"name": "get_time"}}
MESSAGES = [{"role": "user", "content": "What is the weather in Paris? Also the time."}]
NAMED = {"type": "function", "function": {"name": "get_weather"}}


def cases(model):
    base = {"model": model, "messages": MESSAGES, "tools": [WEATHER, TIME], "temperature": 0,
            "max_completion_tokens": 120}
    answered = {
        "named": dict(base, tool_choice=NAMED),
        "named without parameters": dict(
            base, tool_choice={"type": "function", "function": {"name": "get_time"}}),
        "named, cut": dict(base, tool_choice=NAMED, max_completion_tokens=5),
        "named over response_format": dict(base, tool_choice=NAMED,
                                           response_format={"type": "json_object"}),
        "required": dict(base, tool_choice="required", max_completion_tokens=300),
        "required, one call": dict(base, tool_choice="required", parallel_tool_calls=False,
                                   max_completion_tokens=300),
        "required, cut": dict(base, tool_choice="required", max_completion_tokens=12),
        "required, strict tool": dict(
            base, tool_choice="required", max_completion_tokens=300,
            tools=[{"type": "function", "function": dict(WEATHER["function"], strict=True)}, TIME]),
        "named, strict tool": dict(
            base, tool_choice=NAMED,
            tools=[{"type": "function", "function": dict(WEATHER["function"], strict=True)}]),
        "required over structured_outputs": dict(
            base, tool_choice="required", structured_outputs={"json": {"type": "string"}},
            max_completion_tokens=300),
    }
    defs = lambda value: {"type": "object", "$defs": value}  # noqa: E731
    refused = {
        "empty tools": dict(base, tools=[], tool_choice="required"),
        "no tools": {"model": model, "messages": MESSAGES, "tool_choice": "required"},
        "unknown value": dict(base, tool_choice="any"),
        "no function": dict(base, tool_choice={"type": "function"}),
        "function a string": dict(base, tool_choice={"type": "function", "function": "get"}),
        "no name": dict(base, tool_choice={"type": "function", "function": {}}),
        "empty name": dict(base, tool_choice={"type": "function", "function": {"name": ""}}),
        "unknown function": dict(base,
                                 tool_choice={"type": "function", "function": {"name": "nope"}}),
        "named with a regex": dict(base, tool_choice=NAMED, structured_outputs={"regex": "a+"}),
        "$defs that disagree": dict(base, tool_choice="required", tools=[
            {"type": "function", "function": {"name": "a", "parameters": defs({"p": {}})}},
            {"type": "function",
             "function": {"name": "b", "parameters": defs({"p": {"type": "string"}})}}]),
        "$defs a list": dict(base, tool_choice="required", tools=[
            {"type": "function", "function": {"name": "a", "parameters": defs([1])}}]),
    }
    return answered, refused


def post(base, body):
    request = urllib.request.Request(base + "/v1/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


TOOL_ID = re.compile(r"chatcmpl-tool-[0-9a-f]{16}")
# The mistral parser's ids: 9 random letters and digits.
MISTRAL_ID = re.compile(r'"id": "[A-Za-z0-9]{9}"')


# The fields compared: what tool calls decide. Other fields of troupe's chat shape are older
# vLLM's (an empty message.tool_calls is [] where 0.32 leaves it out, "reasoning_content" for
# "reasoning", no token_ids or routed_experts), so they are left out here.
def message_view(text):
    doc = json.loads(text)
    return [{"content": c["message"]["content"], "tool_calls": c["message"].get("tool_calls") or [],
             "finish_reason": c["finish_reason"], "stop_reason": c["stop_reason"],
             "logprobs": c["logprobs"]} for c in doc["choices"]]


def stream_view(text):
    """Per choice index, each chunk's delta, logprobs, finish and stop reasons."""
    per_choice = {}
    for line in text.split("\n"):
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        for c in json.loads(line[6:])["choices"]:
            per_choice.setdefault(c["index"], []).append(
                {k: c.get(k, "<absent>")
                 for k in ("delta", "logprobs", "finish_reason", "stop_reason")})
    return per_choice


def masked(value):
    return json.loads(MISTRAL_ID.sub('"id": "ID"', TOOL_ID.sub("ID", json.dumps(value))))


def compare_answers(answered, a, b, view_whole):
    """Sends each request to both servers, whole and streamed; prints and counts differences of
    view_whole(body) (stream_view for streams), tool call ids masked."""
    differences = 0
    for name, body in answered.items():
        for stream in (False, True):
            request = dict(body, stream=True) if stream else body
            (sa, ta), (sb, tb) = post(a, request), post(b, request)
            if sa != 200 or sb != 200:
                print(f"DIFF {name} (stream={stream}): status {sa} vs {sb}: {ta[:200]} | {tb[:200]}")
                differences += 1
                continue
            view = stream_view if stream else view_whole
            va, vb = masked(view(ta)), masked(view(tb))
            if va != vb:
                differences += 1
                print(f"DIFF {name} (stream={stream})\n  a: {json.dumps(va)[:2000]}\n"
                      f"  b: {json.dumps(vb)[:2000]}")
            else:
                print(f"same {name} (stream={stream})")
    return differences


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", required=True, help="troupe's base URL")
    p.add_argument("--b", required=True, help="vLLM's base URL")
    p.add_argument("--model", required=True)
    args = p.parse_args()
    answered, refused = cases(args.model)
    differences = compare_answers(answered, args.a, args.b, message_view)
    for name, body in refused.items():
        (sa, ta), (sb, tb) = post(args.a, body), post(args.b, body)
        if sa == sb == 200:  # both answer (hermes' format takes any $defs)
            print(f"same {name}: both answered")
            continue
        ea, eb = json.loads(ta).get("error", {}), json.loads(tb).get("error", {})
        mb = eb.get("message")
        if (sa, ea.get("message"), ea.get("param")) != (sb, mb, eb.get("param")):
            differences += 1
            print(f"DIFF {name}: {sa} {ea.get('message')!r} {ea.get('param')} | "
                  f"{sb} {mb!r} {eb.get('param')}")
        else:
            print(f"same {name}: {sa} {ea.get('message')!r}")
    print(f"{differences} differences")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
