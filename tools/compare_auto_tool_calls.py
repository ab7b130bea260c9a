#!/usr/bin/env python3
"""Sends the same greedy chat requests with tool_choice "auto" (or none given) to two
OpenAI-compatible servers, troupe and vLLM, both started with `--enable-auto-tool-choice
--tool-call-parser PARSER` on the same model in the same precision, and compares the answers:
message content, tool calls (ids masked), finish and stop reasons, and every chunk of the
streamed answer per choice. Exits 1 on any difference.

    python3 tools/compare_auto_tool_calls.py --a http://localhost:8012 --b http://localhost:8303 \\
        --model smol --parser hermes

For --parser mistral the model needs a `[TOOL_CALLS]` special token: serve a copy of the
default model's directory whose tokenizer.json (and tokenizer_config.json) calls token 16,
`<empty_output>`, `[TOOL_CALLS]` instead; for llama3_json, the same copy with token 16 called
`<|python_tag|>`.

A small model seldom writes a tool call by itself, so most cases hold the answer to a regex (the
request's structured_outputs) that spells a call in the parser's format: both servers then
generate the same text, and what is compared is how each parses it, whole and streamed. Other
cases leave the answer free (content only), cut it mid-call (max_completion_tokens), ask for two
calls with parallel_tool_calls false, send tool_choice "none", or give a strict tool (which
vLLM's hermes holds "auto" answers to its call format for).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_tool_calls import compare_answers  # noqa: E402

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object",
                   "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
                   "required": ["city"]}}}
TIME = {"type": "function", "function": {"name": "get_time"}}
STRICT_WEATHER = {"type": "function", "function": dict(WEATHER["function"], strict=True)}
MESSAGES = [{"role": "user", "content": "What is the weather in Paris? Also the time."}]

# Per parser: (one call's regex, a regex of text before calls, how two calls are joined).
CITY = '"P[a-z]{2,6}"'
FORMATS = {
    "hermes": (
        '<tool_call>\\n\\{"name": "get_weather", "arguments": \\{"city": ' + CITY +
        ', "unit": "c"\\}\\}\\n</tool_call>',
        '<tool_call>\\n\\{"name": "get_time", "arguments": \\{\\}\\}\\n</tool_call>', "\\n"),
    "llama3_json": (
        '\\{"name": "get_weather", "parameters": \\{"city": ' + CITY + ', "unit": "c"\\}\\}',
        '\\{"name": "get_time", "parameters": \\{\\}\\}', "; "),
    "pythonic": (
        '\\[get_weather\\(city=' + CITY + ', unit="c"\\)',
        'get_time\\(\\)\\]', ", "),
    "mistral": (
        '\\[TOOL_CALLS\\]\\[\\{"name": "get_weather", "arguments": \\{"city": ' + CITY +
        ', "unit": "c"\\}\\}',
        '\\{"name": "get_time", "arguments": \\{\\}\\}\\]', ", "),
}


def cases(model, parser):
    weather, time, join = FORMATS[parser]
    base = {"model": model, "messages": MESSAGES, "tools": [WEATHER, TIME], "temperature": 0,
            "max_completion_tokens": 200}
    regex = lambda pattern: {"structured_outputs": {"regex": pattern}}  # noqa: E731
    if parser in ("pythonic", "mistral"):
        one, two = weather + "\\]", weather + join + time
    else:
        one, two = weather, weather + join + time
    held = {
        "free answer": dict(base, tool_choice="auto", max_completion_tokens=24),
        "free answer, no tool_choice": dict(base, max_completion_tokens=24),
        "one call": dict(base, tool_choice="auto", **regex(one)),
        "one call, no tool_choice": dict(base, **regex(one)),
        "content, then a call": dict(base, tool_choice="auto",
                                     **regex("Sure[,.] let me check\\. " + one)),
        "two calls": dict(base, tool_choice="auto", **regex(two)),
        "two calls, parallel_tool_calls false": dict(base, tool_choice="auto",
                                                     parallel_tool_calls=False, **regex(two)),
        "cut mid-call": dict(base, tool_choice="auto", max_completion_tokens=30, **regex(one)),
        "tool_choice none": dict(base, tool_choice="none", **regex(one)),
        "n=2": dict(base, tool_choice="auto", n=2, temperature=1e-4, seed=1, **regex(one)),
        # A strict tool: vLLM's hermes holds "auto" to its call format (any text, then whole
        # calls); with a structured output as well, to calls only or that output.
        "strict tool, free answer": dict(base, tool_choice="auto", max_completion_tokens=40,
                                         tools=[STRICT_WEATHER, TIME]),
        "strict tool, free answer, parallel_tool_calls false": dict(
            base, tool_choice="auto", max_completion_tokens=40, parallel_tool_calls=False),
        "strict tool, two calls": dict(base, tool_choice="auto", tools=[STRICT_WEATHER, TIME],
                                       **regex(two)),
    }
    if parser in ("hermes", "llama3_json"):
        # Earlier turns show the model calls in the parser's format, so it writes one itself:
        # the grammar (vLLM's hermes tag, xgrammar's builtin "llama" tag) then holds the call it
        # starts (a strict tool's arguments to a city it would not pick; with
        # parallel_tool_calls false nothing after the first call).
        shots = few_shot_messages(weather_calls=2, parser=parser)
        held.update({
            "few-shot call, strict arguments": dict(
                base, messages=few_shot_messages(1, parser), tool_choice="auto",
                tools=[{"type": "function", "function": {
                    "name": "get_weather", "strict": True, "parameters": {
                        "type": "object", "properties": {"city": {"enum": ["Lyon", "Nice"]}},
                        "required": ["city"]}}}, TIME]),
            "few-shot two calls, parallel_tool_calls false": dict(
                base, messages=shots, parallel_tool_calls=False),
            "few-shot two calls": dict(base, messages=shots, tools=[STRICT_WEATHER, TIME]),
        })
    return held


def few_shot_messages(weather_calls, parser="hermes"):
    """Two earlier turns answered with calls in the parser's format (as text), then a new
    question."""
    def calls(city):
        if parser == "llama3_json":
            return "; ".join(['{"name": "get_weather", "parameters": {"city": "%s"}}' % city] *
                             weather_calls)
        one = ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "%s"}}\n</tool_call>'
               % city)
        return "\n".join([one] * weather_calls)
    return [{"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": calls("Oslo")},
            {"role": "user", "content": "Weather in Rome?"},
            {"role": "assistant", "content": calls("Rome")},
            {"role": "user", "content": "Weather in Paris?"}]


def message_view(text):
    doc = json.loads(text)
    return [{"message": {k: c["message"].get(k, "<absent>")
                         for k in ("content", "tool_calls", "reasoning")},
             "finish_reason": c["finish_reason"], "stop_reason": c["stop_reason"]}
            for c in doc["choices"]]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", required=True, help="troupe's base URL")
    p.add_argument("--b", required=True, help="vLLM's base URL")
    p.add_argument("--model", required=True)
    p.add_argument("--parser", required=True, choices=sorted(FORMATS))
    args = p.parse_args()
    differences = compare_answers(cases(args.model, args.parser), args.a, args.b, message_view)
    print(f"{differences} differences")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
