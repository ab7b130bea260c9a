#!/usr/bin/env python3
"""Writes the expected renders for tests/runtime/chat_template/: jinja2 configured as
transformers' apply_chat_template does (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
loopcontrols, tojson = json.dumps(ensure_ascii=False), raise_exception).

  tests/data/chat_template/interpreter_cases.json  small templates exercising the interpreter
  tests/data/chat_template/smollm2.json             the default model's GGUF chat template
  tests/data/chat_template/random_<name>.jsonl      seeded random conversations (odd contents,
                                                    tool calls, reasoning) rendered with the shared
                                                    llama3/qwen3/gemma3 templates (../shared)

Usage: tools/chat_template_reference.py [MODEL.gguf]
Default model: ~/.cache/troupe/models/SmolLM2-135M-Instruct.Q4_1.gguf. Run once; the output is
committed. Needs python3 jinja2 and the `gguf` package (reference only: troupe does not use Python).
"""
import json
import os
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "..", "tests", "data", "chat_template")


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


# (template, variables)
CASES = [
 ("{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 7 / 2 }}|{{ 1 / 3 }}", {}),
 ("{{ 'a' ~ 1 ~ none }}|{{ 'ab' * 3 }}|{{ [1, 2] + [3] }}|{{ 1.0 }}|{{ 1e20 }}|{{ 0.00001 }}|{{ true }}|{{ none }}", {}),
 ("{{ x }}|{{ x is defined }}|{{ y is defined }}|{{ y.z is defined }}|{{ x is string }}|{{ x is not none }}", {"y": {"z": 1}}),
 ("{{ 'a' in 'cat' }}|{{ 2 in [1, 2] }}|{{ 'k' in d }}|{{ 'q' not in d }}|{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}", {"d": {"k": 1}}),
 ("{{ s | trim }}|{{ s | length }}|{{ s | upper }}|{{ 'hello world' | title }}|{{ 'hELLO' | capitalize }}|{{ s.strip() }}|{{ s.lstrip() }}.|{{ s.rstrip() }}", {"s": "  héllo \n"}),
 ("{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'x</think>y'.split('</think>')[-1] }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aXbXc'.replace('X', '-') }}|{{ 'aXbXc' | replace('X', '', 1) }}", {}),
 ("{{ [3, 1, 2] | join(', ') }}|{{ [3, 1, 2] | first }}|{{ [3, 1, 2] | last }}|{{ [3, 1, 2] | sort }}|{{ 'abc'[::-1] }}|{{ [1,2,3,4][1:3] }}|{{ [1,2,3,4][-2:] }}|{{ 'héllo'[1] }}", {}),
 ("{{ missing | default('dflt') }}|{{ '' | default('e', true) }}|{{ '3' | int + 1 }}|{{ '2.5' | float }}|{{ -3 | abs }}|{{ 2.567 | round(2) }}|{{ 2.5 | round }}|{{ 42 | string ~ '!' }}", {}),
 ("{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | join('+') }}|{{ msgs | rejectattr('role', 'eq', 'user') | list | length }}|{{ [1,2,3,4] | select('odd') | list }}|{{ ['a','b'] | map('upper') | list }}", {"msgs": [{"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}]}),
 ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in d %}{{ k }}{% endfor %}|{{ d | items | list }}|{{ d.get('b') }}|{{ d.get('z', 'no') }}|{{ d['a'] }}|{{ d.a }}", {"d": {"b": 2, "a": 1}}),
 ("{% for x in xs %}{{ loop.index }}/{{ loop.length }}{{ '^' if loop.first }}{{ '$' if loop.last }}{{ loop.revindex }}{{ loop.previtem }}<{{ loop.nextitem }}>{{ loop.cycle('o', 'e') }} {% endfor %}", {"xs": ["a", "b", "c"]}),
 ("{% for x in xs if x > 1 %}{{ x }}{% if x == 3 %}{% break %}{% endif %}{% else %}empty{% endfor %}|{% for x in [] %}{{ x }}{% else %}none{% endfor %}|{% for x in xs %}{% if x is even %}{% continue %}{% endif %}{{ x }}{% endfor %}", {"xs": [1, 2, 3, 4]}),
 ("{% set x = 1 %}{% for i in [1, 2] %}{% set x = i %}{% endfor %}{{ x }}|{% set ns = namespace(v=0) %}{% for i in [1, 2, 3] %}{% set ns.v = ns.v + i %}{% endfor %}{{ ns.v }}|{% set a, b = [1, 2] %}{{ b }}{{ a }}|{% set blk %}in{{ 1 }}block{% endset %}{{ blk }}", {}),
 ("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bo', punct='?') }}|{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inner{% endcall %}", {}),
 ("{{ d | tojson }}|{{ [1, 'é', none, true, 1.5, '\"q\"\\n'] | tojson }}|{{ d | tojson(indent=2) }}", {"d": {"z": 1, "a": [1, {"k": "v"}], "e": {}}}),
 ("{{ c }}|{{ n }}|{{ [none, true, 'it\\'s'] }}|{{ {'a': 'b'} }}|{{ 'x' + c | string }}", {"c": [{"type": "image"}, {"type": "text", "text": "hi"}], "n": None}),
 ("a\n  {% if true %}\n  b\n  {% endif %}\nc\n{%- if true -%}\n  d  \n{%- endif %}\n  e {# comment #}\n  {#- c2 #} f\n{%+ if true %}g{% endif +%}\nh", {}),
 ("{{ 'tab\\there' }}|{{ \"q\\\"uote\" }}|{{ '\\u00e9\\x41' }}|{{ 'a' 'b' }}|{{ 'line\nbreak' }}", {}),
 ("{{ 1 if false }}|{{ 'y' if x else 'n' }}|{{ not x }}|{{ x or 'fallback' }}|{{ x and 'both' }}|{{ 0 or [] or 'last' }}|{{ (1, 2) | length }}", {"x": 0}),
 ("{% for k, v in d | dictsort %}{{ k }}{{ v }},{% endfor %}|{{ d | dictsort(by='value', reverse=true) }}|{{ \"they're bill's friends\".title() }}|{{ 'ÉCOLE' | lower }}|{{ 'straße' | upper }}", {"d": {"b": 1, "A": 3, "c": 2}}),
 ("{%- macro render(v) -%}{%- if v is mapping -%}{ {%- for k, x in v.items() -%}{{ k }}: {{ render(x) }}{{ ', ' if not loop.last }}{%- endfor -%} }{%- elif v is iterable and v is not string -%}[{{ v | map('string') | join(',') }}]{%- else -%}{{ v }}{%- endif -%}{%- endmacro -%}{{ render(t) }}", {"t": {"name": "f", "args": [1, 2], "deep": {"x": None}}}),
 ("{{ d | tojson(separators=(',', ':'), sort_keys=true) }}|{{ d | tojson(indent=1, sort_keys=true) }}|{{ [] | tojson }}|{{ {} | tojson(indent=2) }}", {"d": {"z": [1, {"b": 2, "a": None}], "a": "x"}}),
 ("{{ range(3) | list }}|{{ range(1, 7, 2) | list }}|{{ [1, 2, 2, 3] | unique | list }}|{{ [1, 2, 3] | sum }}|{{ [3, 1] | max }}|{{ 'a\nb' | indent(2) }}", {}),
]

CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"},
     {"role": "assistant", "content": "Hi, how can I help?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}],
]


def smollm2_template(path):
    from gguf import GGUFReader
    field = GGUFReader(path).fields["tokenizer.chat_template"]
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def write(name, data):
    with open(os.path.join(OUT_DIR, name), "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.write("\n")


TEXTS = ["hi", " spaced \n", "<think>r</think>ans", "\n\n<think>\nx\n</think>\n\nafter",
         "<tool_response>t</tool_response>", "é 😀 \t", "", "{{ x }}", "a'b\"c\\d", 3, 2.5, None,
         True, [{"type": "text", "text": " t "}], [{"type": "image"}, {"type": "text", "text": "x"}],
         {"k": "v"}]


def random_message(rng):
    m = {"role": rng.choice(["user", "assistant", "system", "tool", "ipython"])}
    if rng.random() < 0.9:
        m["content"] = rng.choice(TEXTS)
    if m["role"] == "assistant" and rng.random() < 0.3:
        m["tool_calls"] = [{"id": "abcdefghi", "type": "function", "function": {
            "name": "f", "arguments": rng.choice([{"a": 1, "b": [1, 2.0, None]}, "{\"x\": 1}", {}])}}
            for _ in range(rng.randint(1, 2))]
    if m["role"] == "assistant" and rng.random() < 0.3:
        m["reasoning_content"] = rng.choice(TEXTS)
    return m


def random_lines(env, name, count=100):
    import random
    shared = os.path.join(HERE, "..", "..", "shared", "testdata", "tokenizers", name)
    with open(os.path.join(shared, "tokenizer_config.json"), encoding="utf-8") as f:
        template = env.from_string(json.load(f)["chat_template"])
    rng = random.Random(name)
    lines = []
    for _ in range(count):
        r = {"messages": [random_message(rng) for _ in range(rng.randint(0, 5))],
             "add_generation_prompt": rng.random() < 0.5}
        if rng.random() < 0.3:
            r["tools"] = [{"type": "function", "function": {"name": "g", "description": "d",
                           "parameters": {"type": "object",
                                          "properties": {"q": {"type": "string"}}}}}]
        if rng.random() < 0.3:
            r["extra_context"] = {"enable_thinking": rng.choice([True, False, 0, None])}
        ctx = dict(messages=r["messages"], add_generation_prompt=r["add_generation_prompt"],
                   tools=r.get("tools"), documents=None, bos_token="<s>", eos_token="</s>",
                   **r.get("extra_context", {}))
        try:
            r["rendered"] = template.render(**ctx)
        except jinja2.exceptions.TemplateError as e:
            r["error"] = str(e)
            r["error_type"] = type(e).__name__
        except Exception as e:  # UndefinedError is a TemplateError; TypeError etc. land here
            r["error"] = str(e)
            r["error_type"] = type(e).__name__
        lines.append(json.dumps(r, ensure_ascii=False))
    with open(os.path.join(OUT_DIR, "random_" + name + ".jsonl"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main():
    env = environment()
    cases = [{"template": t, "variables": v, "rendered": env.from_string(t).render(**v)}
             for t, v in CASES]
    write("interpreter_cases.json", cases)
    model = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser(
        "~/.cache/troupe/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    template = env.from_string(smollm2_template(model))
    renders = []
    for messages in CONVERSATIONS:
        for gen in (True, False):
            renders.append({"messages": messages, "add_generation_prompt": gen,
                            "rendered": template.render(messages=messages,
                                                        add_generation_prompt=gen,
                                                        bos_token="<|im_start|>",
                                                        eos_token="<|im_end|>")})
    write("smollm2.json", renders)
    for name in ("llama3", "qwen3", "gemma3"):
        random_lines(env, name)


if __name__ == "__main__":
    main()
