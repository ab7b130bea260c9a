#!/usr/bin/env python3
"""Sends the same greedy OpenAI Responses API requests (POST /v1/responses, whole and streamed,
GET /v1/responses/{id}, POST /v1/responses/{id}/cancel) to two servers, troupe and vLLM serving
the same model in the same precision, and compares the answers: HTTP status, content type (and
the Allow header of a 405) and the body as JSON. Some cases are sequences: a create with store,
then a GET of the id it returned, a follow-up with previous_response_id, a background create then
GETs until it is done, a cancel; each server's steps use the ids that server returned ("$ID0" in
a step's path or body stands for the response id of step 0 on the same server).

Masked before comparing (see MASKED): response and item ids ("resp_...", "msg_...", "fc_...",
"rs_...", "ctc_...", call ids such as "chatcmpl-tool-...") are reduced to their prefix shape
("resp_*hex16"), also inside error messages; created_at / completed_at become "<time>". A
cache-dependent value (usage.input_tokens_details.cached_tokens) differing is only a WARNING;
logprob values compare within 0.01 (a smaller nonzero difference is a WARNING). A stream
compares as its sequence of (event name, parsed data), masked the same way. Error bodies compare
whole, except that where vLLM's message is a pydantic validation text ("1 validation
error:\\n  {...}") a differing text is only a WARNING; status, type and param still count. JSON
key order differences are WARNINGs too. Exits 1 on any difference.

    python3 tools/compare_responses.py --a http://localhost:8012 --b http://localhost:8303 \\
        --model smol

With --capture DIR it only queries --b and writes, per case, DIR/<case>.txt: per step the
request line and body, the HTTP status, the content-type header (and allow, when sent), a blank
line, then the exact response body bytes (a stream's raw SSE text); steps of a sequence are
headed "=== step N ===":

    python3 tools/compare_responses.py --b http://localhost:8303 --model smol \\
        --capture /tmp/responses_vllm

Start both servers with --dtype float32 --enable-auto-tool-choice --tool-call-parser hermes (no
reasoning parser). vLLM keeps responses (store, GET, previous_response_id, background, cancel)
only when started with VLLM_ENABLE_RESPONSES_API_STORE=1; without it store is silently off, a
GET answers 404 and background 400, so compare against a vLLM started the way troupe is meant to
behave. --only NAME (repeatable) runs just the named cases; --list prints the case names.
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_common import Rules, id_shape, main, parse_sse, request  # noqa: E402

RESPONSES = "/v1/responses"

# Masked values, by key: ids keep their prefix shape, times become "<time>", SOFT values
# (which depend on what the server's prefix cache holds) only warn when they differ, and
# CLOSE values (float logprobs of two implementations) compare within LOGPROB_TOLERANCE: a
# larger difference counts, a smaller nonzero one only warns.
ID_KEYS = {"id", "item_id", "call_id", "previous_response_id", "response_id"}
TIME_KEYS = {"created_at", "completed_at"}
SOFT_KEYS = {"cached_tokens"}
CLOSE_KEYS = {"logprob"}
MASKED = sorted(ID_KEYS | TIME_KEYS | SOFT_KEYS | CLOSE_KEYS)
LOGPROB_TOLERANCE = 0.01

# A tool that vLLM's hermes structural tag holds to its schema when the call is forced; without
# strict greedy smol writes "arguments": "\"Paris\"" (case tools-required-loose).
LOOSE_WEATHER = {"type": "function", "name": "get_weather", "description": "Weather of a city",
                 "parameters": {"type": "object",
                                "properties": {"city": {"type": "string"},
                                               "unit": {"enum": ["c", "f"]}},
                                "required": ["city"]}}
WEATHER = dict(LOOSE_WEATHER, strict=True)
TIME = {"type": "function", "name": "get_time", "description": "Current time",
        "parameters": {"type": "object", "properties": {}}}
HELLO = "Say hello."
# Greedy smol answers "The answer is 4." (7 tokens) and stops by itself.
SHORT = "What is 2+2? Answer with one number."
WEATHER_ASK = "What is the weather in Paris?"
CALL = {"type": "function_call", "call_id": "call_abc123", "name": "get_weather",
        "arguments": "{\"city\": \"Paris\"}"}
CALL_OUTPUT = {"type": "function_call_output", "call_id": "call_abc123",
               "output": "Sunny, 21 C"}
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}
UNKNOWN_ID = "resp_0000000000000000"
# Long enough (greedy smol does not stop by itself) that a cancel right after a background
# create finds it still running.
LONG = "Write a very long story about a dragon and a knight."


def step(path=RESPONSES, body=None, method="POST", headers=None, poll=False):
    """One request. poll: repeat (a GET) until its status is neither queued nor in_progress."""
    return {"method": method, "path": path, "body": body, "headers": headers or {},
            "poll": poll}


def cases(model):
    """name -> [step, ...]."""
    m = {"model": model, "temperature": 0}
    plain = dict(m, input=HELLO, max_output_tokens=16)
    short = dict(m, input=SHORT, max_output_tokens=40)
    tools = dict(m, input=WEATHER_ASK, tools=[WEATHER, TIME], max_output_tokens=80)
    c = {}

    def add(name, body, stream=False, **kw):
        c[name] = [step(body=body, **kw)]
        if stream:
            c[name + "-stream"] = [step(body=dict(body, stream=True), **kw)]

    def seq(name, *steps):
        c[name] = list(steps)

    # Inputs.
    add("input-string", plain, stream=True)
    add("input-messages", dict(plain, input=[{"role": "user", "content": HELLO}]))
    add("input-message-parts", dict(plain, input=[{"role": "user", "content": [
        {"type": "input_text", "text": "Say"}, {"type": "input_text", "text": " hello."}]}]))
    add("input-typed-message", dict(plain, input=[
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": HELLO}]}]))
    add("instructions", dict(plain, instructions="You are a pirate. Answer like one."),
        stream=True)
    add("instructions-and-system", dict(plain, instructions="Answer in French.", input=[
        {"role": "system", "content": "You are a pirate."}, {"role": "user", "content": HELLO}]))
    add("system-role", dict(plain, input=[
        {"role": "system", "content": "Answer in French."}, {"role": "user", "content": HELLO}]))
    add("developer-role", dict(plain, input=[
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": HELLO}]))
    add("multi-turn-output-text", dict(plain, input=[
        {"role": "user", "content": "My name is Ann."},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Nice to meet you, Ann."}]},
        {"role": "user", "content": "What is my name?"}]))
    add("multi-turn-assistant-string", dict(plain, input=[
        {"role": "user", "content": "My name is Ann."},
        {"role": "assistant", "content": "Nice to meet you, Ann."},
        {"role": "user", "content": "What is my name?"}]))
    # An assistant message left in_progress is continued (continue_final_message).
    add("assistant-prefill", dict(plain, input=[
        {"role": "user", "content": HELLO},
        {"type": "message", "role": "assistant", "status": "in_progress",
         "content": [{"type": "output_text", "text": "Ahoy"}]}]))
    add("reasoning-item-input", dict(plain, input=[
        {"role": "user", "content": "Hi"},
        {"type": "reasoning", "summary": [],
         "content": [{"type": "reasoning_text", "text": "A greeting."}]},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Hello!"}]},
        {"role": "user", "content": "Say hello again."}]))
    add("input-empty-string", dict(plain, input=""))
    add("input-empty-list", dict(plain, input=[]))
    # Ends.
    add("natural-end", short, stream=True)
    add("max-output-tokens-cut", dict(plain, max_output_tokens=3), stream=True)
    add("max-output-tokens-one", dict(plain, max_output_tokens=1))
    add("max-output-tokens-omitted", {k: v for k, v in short.items() if k != "max_output_tokens"})
    add("stream-false", dict(plain, stream=False))
    # Store, GET, previous_response_id.
    seq("store-get", step(body=dict(short, store=True)), step("/v1/responses/$ID0", method="GET"))
    seq("store-default-get", step(body=short), step("/v1/responses/$ID0", method="GET"))
    seq("store-false-get", step(body=dict(short, store=False)),
        step("/v1/responses/$ID0", method="GET"))
    seq("store-stream-get", step(body=dict(short, store=True, stream=True)),
        step("/v1/responses/$ID0", method="GET"))
    seq("store-get-stream", step(body=dict(short, store=True)),
        step("/v1/responses/$ID0?stream=true", method="GET"))
    add("get-unknown", None, path="/v1/responses/" + UNKNOWN_ID, method="GET")
    add("get-unknown-stream", None, path=f"/v1/responses/{UNKNOWN_ID}?stream=true", method="GET")
    seq("previous-response",
        step(body=dict(plain, input="My name is Ann.", instructions="Be brief.")),
        step(body=dict(plain, input="What is my name?", previous_response_id="$ID0")),
        step("/v1/responses/$ID1", method="GET"))
    seq("previous-response-stream",
        step(body=dict(plain, input="My name is Ann.")),
        step(body=dict(plain, input="What is my name?", previous_response_id="$ID0",
                       stream=True)))
    seq("previous-response-chain",
        step(body=dict(plain, input="My name is Ann.")),
        step(body=dict(plain, input="I live in Paris.", previous_response_id="$ID0")),
        step(body=dict(plain, input="What is my name and where do I live?",
                       previous_response_id="$ID1")))
    seq("previous-response-not-stored",
        step(body=dict(plain, input="My name is Ann.", store=False)),
        step(body=dict(plain, input="What is my name?", previous_response_id="$ID0")))
    add("previous-response-unknown", dict(plain, previous_response_id=UNKNOWN_ID), stream=True)
    # Background and cancel.
    seq("background", step(body=dict(short, background=True)),
        step("/v1/responses/$ID0", method="GET", poll=True),
        step("/v1/responses/$ID0/cancel"))
    seq("background-stream", step(body=dict(short, background=True, stream=True)),
        step("/v1/responses/$ID0?stream=true&starting_after=5", method="GET"),
        step("/v1/responses/$ID0", method="GET"))
    seq("background-get-stream", step(body=dict(short, background=True)),
        step("/v1/responses/$ID0", method="GET", poll=True),
        step("/v1/responses/$ID0?stream=true", method="GET"))
    seq("background-cancel-running",
        step(body=dict(m, input=LONG, max_output_tokens=400, background=True)),
        step("/v1/responses/$ID0/cancel"),
        step("/v1/responses/$ID0", method="GET"),
        step("/v1/responses/$ID0/cancel"))
    seq("cancel-synchronous", step(body=dict(short, store=True)),
        step("/v1/responses/$ID0/cancel"))
    add("cancel-unknown", None, path=f"/v1/responses/{UNKNOWN_ID}/cancel")
    add("background-store-false", dict(short, background=True, store=False))
    # Tools.
    add("tools-auto", tools, stream=True)
    add("tools-required", dict(tools, tool_choice="required"), stream=True)
    add("tools-named", dict(tools, tool_choice={"type": "function", "name": "get_weather"}),
        stream=True)
    add("tools-required-loose", dict(tools, tools=[LOOSE_WEATHER, TIME], tool_choice="required"))
    add("tools-none", dict(tools, tool_choice="none"))
    add("tools-none-short", dict(short, tools=[WEATHER, TIME], tool_choice="none"))
    add("tools-auto-short", dict(short, tools=[WEATHER, TIME], tool_choice="auto"))
    add("tools-parallel-false", dict(tools, tool_choice="required", parallel_tool_calls=False))
    add("tools-max-tool-calls", dict(tools, tool_choice="required", max_tool_calls=1))
    add("tools-required-cut", dict(tools, tool_choice="required", max_output_tokens=8),
        stream=True)
    add("tool-followup", dict(tools, max_output_tokens=24, input=[
        {"role": "user", "content": WEATHER_ASK}, CALL, CALL_OUTPUT]), stream=True)
    add("tool-followup-text-and-call", dict(tools, max_output_tokens=24, input=[
        {"role": "user", "content": WEATHER_ASK},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Let me check."}]},
        CALL, CALL_OUTPUT]))
    add("tool-followup-with-ids", dict(tools, max_output_tokens=24, input=[
        {"role": "user", "content": WEATHER_ASK},
        dict(CALL, id="fc_1234567890abcdef", status="completed"),
        dict(CALL_OUTPUT, id="fco_1234567890abcdef", status="completed")]))
    # Text formats.
    add("text-json-schema", dict(m, max_output_tokens=40, input="Give a person as JSON.",
                                 text={"format": {"type": "json_schema", "name": "person",
                                                  "schema": SCHEMA, "strict": True}}),
        stream=True)
    add("text-json-object", dict(m, max_output_tokens=40, input="Give a person as JSON.",
                                 text={"format": {"type": "json_object"}}))
    add("text-format-text", dict(plain, text={"format": {"type": "text"}}))
    add("text-verbosity", dict(plain, text={"verbosity": "low"}))
    # Other options.
    add("reasoning-effort-low", dict(plain, reasoning={"effort": "low"}))
    add("reasoning-summary", dict(plain, reasoning={"effort": "medium", "summary": "auto"}))
    add("top-p", dict(plain, top_p=0.5))
    add("temperature-omitted", {"model": model, "input": HELLO, "max_output_tokens": 16,
                                "top_p": 0.0001})
    add("logprobs", dict(plain, max_output_tokens=4, top_logprobs=2,
                         include=["message.output_text.logprobs"]), stream=True)
    add("logprobs-no-top", dict(plain, max_output_tokens=4,
                                include=["message.output_text.logprobs"]))
    add("top-logprobs-without-include", dict(plain, max_output_tokens=4, top_logprobs=2))
    add("include-encrypted-reasoning", dict(plain, include=["reasoning.encrypted_content"]))
    add("metadata", dict(plain, metadata={"k": "v", "n": "1"}))
    add("user", dict(plain, user="u-1"))
    add("parallel-tool-calls-false", dict(plain, parallel_tool_calls=False))
    add("truncation-auto", dict(plain, truncation="auto"))
    add("truncation-disabled", dict(plain, truncation="disabled"))
    add("max-tool-calls", dict(plain, max_tool_calls=2))
    add("prompt-cache-key", dict(plain, prompt_cache_key="key-1"))
    add("cache-salt", dict(plain, cache_salt="salt-123"))
    add("service-tier-auto", dict(plain, service_tier="auto"))
    add("service-tier-flex", dict(plain, service_tier="flex"))
    add("safety-identifier", dict(plain, safety_identifier="s-1"))
    add("unknown-field", dict(plain, foo_bar=1))
    add("model-omitted", {k: v for k, v in plain.items() if k != "model"})
    add("presence-penalty", dict(plain, presence_penalty=0.5))
    # Errors.
    add("error-missing-input", {k: v for k, v in plain.items() if k != "input"})
    add("error-wrong-model", dict(plain, model="nope"), stream=True)
    add("error-invalid-json", b'{"model": "smol", "input": [')
    add("error-not-json-content-type", json.dumps(plain).encode(),
        headers={"Content-Type": "text/plain"})
    add("error-input-number", dict(plain, input=5))
    add("error-unknown-item-type", dict(plain, input=[{"type": "video", "text": "x"}]))
    add("error-unknown-content-part", dict(plain, input=[
        {"role": "user", "content": [{"type": "video", "text": "x"}]}]))
    add("error-unknown-role", dict(plain, input=[{"role": "robot", "content": "x"}]))
    add("error-tool-choice-required-no-tools", dict(plain, tool_choice="required"))
    add("error-tool-choice-named-no-tools",
        dict(plain, tool_choice={"type": "function", "name": "get_weather"}))
    add("error-tool-choice-named-unknown",
        dict(tools, tool_choice={"type": "function", "name": "nope"}))
    add("error-tool-choice-unknown", dict(tools, tool_choice="sometimes"))
    add("error-tool-no-name", dict(tools, tools=[{"type": "function", "parameters": {}}]))
    add("error-max-output-tokens-zero", dict(plain, max_output_tokens=0))
    add("error-max-output-tokens-negative", dict(plain, max_output_tokens=-1))
    add("error-max-output-tokens-too-big", dict(plain, max_output_tokens=10 ** 6))
    add("error-temperature-negative", dict(plain, temperature=-1))
    add("error-top-p-too-big", dict(plain, top_p=1.5))
    add("error-top-logprobs-too-big", dict(plain, top_logprobs=50,
                                           include=["message.output_text.logprobs"]))
    add("error-text-format-unknown", dict(plain, text={"format": {"type": "yaml"}}))
    add("error-json-schema-no-schema", dict(plain, text={"format": {"type": "json_schema",
                                                                     "name": "x"}}))
    add("error-include-unknown", dict(plain, include=["foo"]))
    add("error-truncation-unknown", dict(plain, truncation="middle"))
    add("error-service-tier-unknown", dict(plain, service_tier="gold"))
    add("error-reasoning-effort-unknown", dict(plain, reasoning={"effort": "extreme"}))
    add("error-metadata-not-strings", dict(plain, metadata={"k": 1}))
    add("error-cache-salt-empty", dict(plain, cache_salt=""))
    add("error-prompt-template", dict(plain, prompt={"id": "pmpt_1"}))
    add("error-background-stream-store-false",
        dict(short, background=True, stream=True, store=False))
    add("error-function-call-output-missing-call-id", dict(tools, input=[
        {"role": "user", "content": WEATHER_ASK}, CALL,
        {"type": "function_call_output", "output": "x"}]))
    # Other paths and methods.
    add("method-get-collection", None, method="GET")
    add("method-delete", None, path="/v1/responses/" + UNKNOWN_ID, method="DELETE")
    add("method-get-cancel", None, path=f"/v1/responses/{UNKNOWN_ID}/cancel", method="GET")
    add("get-input-items", None, path=f"/v1/responses/{UNKNOWN_ID}/input_items", method="GET")
    return c


def response_id(raw):
    """The "id" of a JSON response, or of the response in a stream's first event."""
    text = raw.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
        return doc.get("id") if isinstance(doc, dict) else None
    except ValueError:
        pass
    for _, data in parse_sse(text):
        try:
            doc = json.loads(data)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("response"), dict):
            return doc["response"].get("id")
    return None


def substitute(value, ids):
    """Replaces "$IDn" with the response id of step n (or leaves it when there is none)."""
    if isinstance(value, str):
        def one(mt):
            n = int(mt.group(1))
            return ids[n] if n < len(ids) and ids[n] else mt.group(0)
        return re.sub(r"\$ID(\d)", one, value)
    if isinstance(value, dict):
        return {k: substitute(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, ids) for v in value]
    return value


def run_case(base, steps):
    """[(method, path, body, headers, (status, content type, allow, raw)), ...]"""
    ids, out = [], []
    for s in steps:
        path, body = substitute(s["path"], ids), substitute(s["body"], ids)
        answer = request(base, s["method"], path, body, s["headers"])
        deadline = time.time() + 120
        while s["poll"] and time.time() < deadline:
            try:
                status = json.loads(answer[3]).get("status")
            except (ValueError, AttributeError):
                break
            if status not in ("queued", "in_progress"):
                break
            time.sleep(0.5)
            answer = request(base, s["method"], path, body, s["headers"])
        ids.append(response_id(answer[3]) if answer[0] == 200 else None)
        out.append((s["method"], path, body, s["headers"], answer))
    return out


# Ids inside texts (error messages).
ID_IN_TEXT = re.compile(r"\b(?:resp|msg|rs|fc|fco|ctc|call)_[0-9A-Za-z]{8,}|"
                        r"chatcmpl-tool-[0-9a-f]{8,}")


def mask(value, soft, key=None):
    """value with MASKED keys masked; SOFT_KEYS and CLOSE_KEYS values are appended to
    soft["soft"] and soft["close"]."""
    if isinstance(value, dict):
        return {k: mask(v, soft, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, soft, key) for v in value]
    if key in CLOSE_KEYS and isinstance(value, float):
        soft["close"].append(value)
        return "<logprob>"
    if key in ID_KEYS and isinstance(value, str):
        return id_shape(value, length=True) if value != UNKNOWN_ID else value
    if key in TIME_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return "<time>"
    if key in SOFT_KEYS and value is not None:
        soft["soft"].append(value)
        return "<soft>"
    if key == "message" and isinstance(value, str):
        return ID_IN_TEXT.sub(lambda mt: id_shape(mt.group(0), length=True)
                              if mt.group(0) != UNKNOWN_ID else mt.group(0), value)
    return value


class ResponsesRules(Rules):
    def mask(self, doc):
        soft = {"soft": [], "close": []}
        return mask(doc, soft), soft

    def check(self, where, name, soft_a, soft_b, diffs, warnings):
        if soft_a["soft"] != soft_b["soft"]:
            warnings.append(f"{name}: {where}cache-dependent values {soft_a['soft']} vs "
                            f"{soft_b['soft']}")
        worst = max((abs(x - y) for x, y in zip(soft_a["close"], soft_b["close"])),
                    default=0.0)
        if worst > LOGPROB_TOLERANCE:
            diffs.append(f"{where}logprobs differ by up to {worst:.4g}: {soft_a['close']} vs "
                         f"{soft_b['close']}")
        elif worst:
            warnings.append(f"{name}: {where}logprobs differ by up to {worst:.3g}")


if __name__ == "__main__":
    main(__doc__, cases, run_case, ResponsesRules(), model_default="smol", listing=True,
         answers="answers", short_types=True)
