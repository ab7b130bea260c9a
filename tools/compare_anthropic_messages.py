#!/usr/bin/env python3
"""Sends the same greedy Anthropic Messages API requests (POST /v1/messages, whole and streamed,
and POST /v1/messages/count_tokens) to two servers, troupe and vLLM serving the same model in the
same precision, and compares the answers: HTTP status, content type and the body as JSON, with
message and tool_use ids reduced to their prefix shape ("chatcmpl-*hex", "chatcmpl-tool-*hex",
"msg_*digits") and thinking signatures (random hex) masked. A stream compares as its sequence of
(event name, parsed data), masked the same way. Error bodies compare whole, except that where
vLLM's message is a pydantic validation text ("1 validation error:\\n  {...}") a differing text
is only a WARNING (troupe words its validation errors differently); status, type and param still
count. JSON key order differences are WARNINGs too. Exits 1 on any difference.

    python3 tools/compare_anthropic_messages.py --a http://localhost:8012 \\
        --b http://localhost:8303 --model smol

With --capture DIR it only queries --b and writes, per case, DIR/<case>.txt: the request line and
body, the HTTP status, the content-type header, a blank line, then the exact response body bytes
(a stream's raw SSE text):

    python3 tools/compare_anthropic_messages.py --b http://localhost:8303 --model smol \\
        --capture /tmp/anthropic_vllm

Start both servers with --dtype float32 --enable-auto-tool-choice --tool-call-parser hermes (no
reasoning parser). --only NAME (repeatable) runs just the named cases.
"""
import json
import os
import re
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_common import Rules, id_shape, main, request  # noqa: E402

MESSAGES = "/v1/messages"
COUNT = "/v1/messages/count_tokens"

# strict: vLLM's hermes structural tag holds a forced call's arguments to the schema only for a
# strict tool; without it greedy smol writes "arguments": "Paris", which vLLM can't turn into a
# tool_use input and answers 400 (case tools-tool-loose-arguments).
LOOSE_WEATHER = {"name": "get_weather", "description": "Weather of a city",
                 "input_schema": {"type": "object",
                                  "properties": {"city": {"type": "string"},
                                                 "unit": {"enum": ["c", "f"]}},
                                  "required": ["city"]}}
WEATHER = dict(LOOSE_WEATHER, strict=True)
TIME = {"name": "get_time", "description": "Current time", "input_schema": {"type": "object"}}
HELLO = [{"role": "user", "content": "Say hello."}]
WEATHER_ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
# Greedy smol's answer to HELLO is "Hello there, welcome to my world! I'm here to help with any
# kind..."; "world" is hit.
STOP = ["world", "zebra"]
TOOL_TURN = [
    {"role": "user", "content": "What is the weather in Paris?"},
    {"role": "assistant", "content": [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_01A", "name": "get_weather",
         "input": {"city": "Paris"}}]},
]
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"]}


def cases(model):
    """name -> (path, body (a dict, or bytes sent as they are), extra headers)."""
    m = dict(model=model, temperature=0)
    plain = dict(m, messages=HELLO, max_tokens=16)
    # A forced call takes 66 tokens: the grammar forces most of it a character at a time.
    tools = dict(m, messages=WEATHER_ASK, tools=[WEATHER, TIME], max_tokens=80)
    c = {}

    def add(name, body, path=MESSAGES, headers=None, stream=False):
        c[name] = (path, body, headers or {})
        if stream:
            c[name + "-stream"] = (path, dict(body, stream=True), headers or {})

    # Plain answers.
    add("plain", plain, stream=True)
    add("plain-long", dict(plain, max_tokens=40), stream=True)
    add("system-string", dict(plain, system="You are a pirate. Answer like one."))
    add("system-blocks", dict(plain, system=[
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=1.0.0; cch=abc123;"},
        {"type": "text", "text": "You are a pirate. "},
        {"type": "text", "text": "Answer like one."}]))
    add("content-blocks", dict(plain, messages=[{"role": "user", "content": [
        {"type": "text", "text": "Say"}, {"type": "text", "text": " hello."}]}]))
    add("multi-turn", dict(plain, messages=[
        {"role": "user", "content": "My name is Ann."},
        {"role": "assistant", "content": "Nice to meet you, Ann."},
        {"role": "user", "content": "What is my name?"}]))
    add("inline-system-message", dict(plain, messages=[
        {"role": "system", "content": "Answer in French."}] + HELLO))
    add("stop-sequences", dict(plain, stop_sequences=STOP), stream=True)
    add("stop-sequences-missed", dict(plain, stop_sequences=["zebra"]))
    add("max-tokens-cut", dict(plain, max_tokens=3), stream=True)
    add("empty-stop-list", dict(plain, stop_sequences=[]))
    # Tools.
    add("tools-any", dict(tools, tool_choice={"type": "any"}), stream=True)
    add("tools-tool", dict(tools, tool_choice={"type": "tool", "name": "get_weather"}),
        stream=True)
    add("tools-tool-loose-arguments", dict(tools, tools=[LOOSE_WEATHER, TIME],
                                           tool_choice={"type": "tool", "name": "get_weather"}),
        stream=True)
    add("tools-auto", dict(tools, tool_choice={"type": "auto"}), stream=True)
    add("tools-none", dict(tools, tool_choice={"type": "none"}))
    add("tools-no-choice", tools)
    add("tools-any-one-call",
        dict(tools, tool_choice={"type": "any", "disable_parallel_tool_use": True}))
    add("tools-any-cut", dict(tools, tool_choice={"type": "any"}, max_tokens=8), stream=True)
    add("tool-result-string", dict(tools, max_tokens=24, messages=TOOL_TURN + [
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "Sunny, 21 C"}]}]),
        stream=True)
    add("tool-result-blocks", dict(tools, max_tokens=24, messages=TOOL_TURN + [
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01A",
             "content": [{"type": "text", "text": "Sunny"}, {"type": "text", "text": "21 C"}]},
            {"type": "text", "text": "Summarize."}]}]))
    add("tool-use-only-assistant", dict(tools, max_tokens=24, messages=[
        WEATHER_ASK[0],
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01B", "content": "12:00",
             "is_error": False}]}]))
    # Thinking and output_config.
    add("thinking-disabled", dict(plain, thinking={"type": "disabled"}))
    add("thinking-enabled", dict(plain, max_tokens=2000,
                                 thinking={"type": "enabled", "budget_tokens": 1024}))
    add("thinking-budget-over-max", dict(plain, max_tokens=1024,
                                         thinking={"type": "enabled", "budget_tokens": 1024}))
    add("thinking-budget-under-1024", dict(plain, max_tokens=2000,
                                           thinking={"type": "enabled", "budget_tokens": 100}))
    add("thinking-adaptive", dict(plain, thinking={"type": "adaptive"}))
    add("assistant-thinking-block", dict(plain, messages=[
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "A greeting.", "signature": "abc"},
            {"type": "text", "text": "Hello!"}]},
        {"role": "user", "content": "Say hello again."}]))
    add("output-json-schema", dict(m, max_tokens=40, output_config={
        "format": {"type": "json_schema", "schema": SCHEMA}},
        messages=[{"role": "user", "content": "Give a person as JSON."}]), stream=True)
    add("output-effort-low", dict(plain, output_config={"effort": "low"}))
    # Other accepted fields and headers.
    add("sampling-top-k-top-p", dict(plain, top_k=1, top_p=0.5))
    add("metadata", dict(plain, metadata={"user_id": "u-1"}))
    add("cache-salt", dict(plain, cache_salt="salt-123"))
    add("headers-anthropic", plain,
        headers={"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-test",
                 "anthropic-beta": "tools-2024-04-04"})
    add("unknown-field", dict(plain, service_tier="auto"))
    add("stream-false", dict(plain, stream=False))
    # Errors.
    body = dict(plain)
    del body["max_tokens"]
    add("error-missing-max-tokens", body)
    add("error-max-tokens-zero", dict(plain, max_tokens=0))
    add("error-max-tokens-negative", dict(plain, max_tokens=-1))
    body = dict(plain)
    del body["messages"]
    add("error-missing-messages", body)
    body = dict(plain)
    del body["model"]
    add("error-missing-model", body)
    add("error-empty-model", dict(plain, model=""))
    add("error-wrong-model", dict(plain, model="nope"), stream=True)
    add("error-invalid-json", b'{"model": "smol", "messages": [')
    add("error-not-json-content-type", json.dumps(plain).encode(),
        headers={"Content-Type": "text/plain"})
    add("error-role-tool", dict(plain, messages=[{"role": "tool", "content": "x"}]))
    add("error-unknown-block", dict(plain, messages=[
        {"role": "user", "content": [{"type": "video", "text": "x"}]}]))
    add("error-tool-choice-no-name", dict(tools, tool_choice={"type": "tool"}))
    add("error-tool-choice-unknown-type", dict(tools, tool_choice={"type": "required"}))
    add("error-tool-choice-unknown-tool",
        dict(tools, tool_choice={"type": "tool", "name": "nope"}))
    add("error-tool-choice-without-tools", dict(plain, tool_choice={"type": "any"}))
    add("error-tool-no-input-schema", dict(tools, tools=[{"name": "get_weather"}]))
    add("error-top-p-too-big", dict(plain, top_p=1.5))
    add("error-top-k-negative", dict(plain, top_k=-2))
    add("error-temperature-negative", dict(plain, temperature=-1))
    add("error-stop-sequences-string", dict(plain, stop_sequences="world"))
    add("error-empty-messages", dict(plain, messages=[]))
    add("error-thinking-unknown-type", dict(plain, thinking={"type": "sometimes"}))
    add("error-output-effort-unknown", dict(plain, output_config={"effort": "extreme"}))
    add("error-cache-salt-empty", dict(plain, cache_salt=""))
    add("error-max-tokens-too-big", dict(plain, max_tokens=10 ** 6))
    # count_tokens.
    add("count-plain", {"model": model, "messages": HELLO}, path=COUNT)
    add("count-system-tools", {"model": model, "messages": WEATHER_ASK, "system": "Be brief.",
                               "tools": [WEATHER, TIME], "tool_choice": {"type": "any"}},
        path=COUNT)
    add("count-tool-result", {"model": model, "messages": TOOL_TURN + [
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "Sunny, 21 C"}]}]},
        path=COUNT)
    add("count-with-max-tokens", {"model": model, "messages": HELLO, "max_tokens": 16},
        path=COUNT)
    add("count-error-missing-messages", {"model": model}, path=COUNT)
    add("count-error-wrong-model", {"model": "nope", "messages": HELLO}, path=COUNT)
    return c


def run(base, case):
    """The case's one step: [(method, path, body, headers, (status, content type, "", raw))]."""
    path, body, headers = case
    status, content_type, _, raw = request(base, "POST", path, body, headers, timeout=600)
    return [("POST", path, body, headers, (status, content_type, "", raw))]


def mask(value):
    """message and tool_use ids -> "chatcmpl-tool-*hex" ("msg_*digits"); thinking signatures
    (32 hex digits) -> "<signature>"."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "id" and isinstance(v, str):
                out[k] = id_shape(v, digits=True)
            elif k == "signature" and isinstance(v, str):
                out[k] = "<signature>" if re.fullmatch(r"[0-9a-f]{32}", v) else v
            else:
                out[k] = mask(v)
        return out
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


class AnthropicRules(Rules):
    whole_events = True

    def mask(self, doc):
        return mask(doc), None


if __name__ == "__main__":
    main(__doc__, cases, run, AnthropicRules())
